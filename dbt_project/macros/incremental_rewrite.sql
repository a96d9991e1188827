{#- How an incremental run replaces what it recomputed, per engine. The models state their grain
    (`unique_key`) and their rewrite unit; the engine decides how rows are replaced:

    - DuckDB (and every engine with delete+insert: Snowflake, Trino, Postgres): rows whose
      `unique_key` appears in the run's output are deleted and re-inserted. The key tables
      recompute only the keys touched inside the window.
    - Spark without Delta/Iceberg (plain parquet tables: no DELETE, no MERGE): `insert_overwrite`
      with dynamic partition overwrite. Message tables are partitioned by the UTC day
      (`received_day`), and a run's window is whole days, so every day it writes is complete. Key
      tables are partitioned by tenant, and a run recomputes every key of each tenant that has mail
      in the window, from all landed mail (what a full build computes for that tenant).

    With Delta or Iceberg on Spark (Databricks), `merge` on the same `unique_key` is the
    delete+insert equivalent; see docs/portability.md. -#}

{% macro rewrite_strategy() -%}
    {{ return(adapter.dispatch('rewrite_strategy', 'attack_detection')()) }}
{%- endmacro %}

{% macro default__rewrite_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__rewrite_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}


{#- The partition column(s) a partition-overwrite engine rewrites whole; none elsewhere. -#}
{% macro rewrite_partition(columns) -%}
    {{ return(adapter.dispatch('rewrite_partition', 'attack_detection')(columns)) }}
{%- endmacro %}

{% macro default__rewrite_partition(columns) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__rewrite_partition(columns) -%}
    {{ return(columns) }}
{%- endmacro %}


{#- The keys whose rows a key table recomputes when they have mail in the window: the keys
    themselves where rows are replaced by key, the whole tenant where partitions are. -#}
{% macro rewrite_keys(keys) -%}
    {{ return(adapter.dispatch('rewrite_keys', 'attack_detection')(keys)) }}
{%- endmacro %}

{% macro default__rewrite_keys(keys) -%}
    {{ return(keys) }}
{%- endmacro %}

{% macro spark__rewrite_keys(keys) -%}
    {{ return(['tenant_id']) }}
{%- endmacro %}


{#- The end of the mail a key table reads: the window's end where only touched keys are rewritten
    (a key's row only ever moves earlier as earlier mail lands); all landed mail where a whole
    tenant is rewritten, so keys first seen after this window (an earlier day re-run later) are
    kept. -#}
{% macro key_history_end() -%}
    {{ return(adapter.dispatch('key_history_end', 'attack_detection')()) }}
{%- endmacro %}

{% macro default__key_history_end() -%}
    {{ window_end() }}
{%- endmacro %}

{% macro spark__key_history_end() -%}
    {{ utc_timestamp('9999-12-31 00:00:00') }}
{%- endmacro %}


{#- The UTC calendar day of a zone-aware timestamp (the message tables' rewrite partition). -#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'attack_detection')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast({{ column }} at time zone 'UTC' as date)
{%- endmacro %}

{% macro spark__utc_date(column) -%}
    {#- the session time zone is UTC (profiles.yml); to_date reads a timestamp in it -#}
    to_date({{ column }})
{%- endmacro %}


{#- Where whole days are rewritten, a window must start and end at midnight UTC (Dagster's daily
    partitions do); anything else would drop the rest of a boundary day. -#}
{% macro check_window_aligned(value) -%}
    {{ return(adapter.dispatch('check_window_aligned', 'attack_detection')(value)) }}
{%- endmacro %}

{% macro default__check_window_aligned(value) -%}
{%- endmacro %}

{% macro spark__check_window_aligned(value) -%}
    {%- if not (value | string).endswith('00:00:00') -%}
        {{ exceptions.raise_compiler_error(
            "window " ~ value ~ " is not midnight UTC: on Spark an incremental run rewrites whole "
            ~ "days, so window_start and window_end must be day boundaries (as Dagster's daily "
            ~ "partitions are). Run a whole-day window or --full-refresh.") }}
    {%- endif -%}
{%- endmacro %}
