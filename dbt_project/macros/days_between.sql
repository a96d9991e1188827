{#- Whole seconds between two timestamps, in days (portable through dbt.datediff). -#}
{% macro days_between(first_at, last_at) -%}
    cast({{ dbt.datediff(first_at, last_at, 'second') }} as double) / 86400.0
{%- endmacro %}
