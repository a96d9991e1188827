{#- The partition window of this run, [window_start, window_end), passed by Dagster as dbt vars
    (ISO timestamps in UTC). Incremental models rewrite the messages inside the window from all
    mail before window_end. On a first or full-refresh build the window is all of time. -#}
{% macro window_start() -%}
    {%- if is_incremental() -%}
        {%- do check_window_aligned(var('window_start')) -%}
        {{ utc_timestamp(var('window_start')) }}
    {%- else -%}
        {{ utc_timestamp('1900-01-01 00:00:00') }}
    {%- endif -%}
{%- endmacro %}

{% macro window_end() -%}
    {%- if is_incremental() -%}
        {%- do check_window_aligned(var('window_end')) -%}
        {{ utc_timestamp(var('window_end')) }}
    {%- else -%}
        {{ utc_timestamp('9999-12-31 00:00:00') }}
    {%- endif -%}
{%- endmacro %}

{#- A UTC timestamp literal; the zone-aware type is spelled differently per engine. -#}
{% macro utc_timestamp(value) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'attack_detection')(value)) }}
{%- endmacro %}

{% macro default__utc_timestamp(value) -%}
    cast('{{ value }}+00:00' as timestamp with time zone)
{%- endmacro %}

{% macro snowflake__utc_timestamp(value) -%}
    to_timestamp_tz('{{ value }} +00:00', 'YYYY-MM-DD HH24:MI:SS TZH:TZM')
{%- endmacro %}

{% macro spark__utc_timestamp(value) -%}
    {#- Spark's timestamp is zone-aware (an instant shown in the session time zone, UTC here) -#}
    cast('{{ value }}' as timestamp)
{%- endmacro %}
