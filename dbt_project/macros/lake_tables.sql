{#- The lake (daily parquet partitions under ATTACK_DETECTION_LAKE_DIR, written by the
    raw_messages asset) as the engine's source tables. DuckDB reads the files in place through
    the sources' external_location and needs nothing. Spark gets external tables in the schema
    mail_lake over the same files, created again at the start of every run so a run sees the days
    landed since the last one (dropping an external table leaves its files). A lake at s3://...
    is given to Spark as s3a:// (Hadoop's S3 connector: hadoop-aws on the cluster; untested). -#}
{% macro create_lake_tables() -%}
    {{ return(adapter.dispatch('create_lake_tables', 'attack_detection')()) }}
{%- endmacro %}

{% macro default__create_lake_tables() -%}
{%- endmacro %}

{% macro spark__create_lake_tables() -%}
    {%- if execute -%}
        {%- set lake = env_var('ATTACK_DETECTION_LAKE_DIR', '../var/lake') -%}
        {%- if lake.startswith('s3://') -%}{%- set lake = 's3a://' ~ lake[5:] -%}{%- endif -%}
        {%- do run_query('create schema if not exists mail_lake') -%}
        {%- for table in ['messages', 'recipients', 'urls'] -%}
            {%- do run_query('drop table if exists mail_lake.' ~ table) -%}
            {#- the day folders are date=YYYY-MM-DD; read every file below the table's folder
                without taking the folder name as a column (the rows carry received_at) -#}
            {%- do run_query(
                'create table mail_lake.' ~ table ~ ' using parquet'
                ~ " options (recursiveFileLookup 'true', mergeSchema 'true')"
                ~ " location '" ~ lake ~ "/" ~ table ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
