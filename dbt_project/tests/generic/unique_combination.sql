{#- The combination of columns is unique (a package-free stand-in for dbt_utils'
    unique_combination_of_columns, so the project builds without fetching packages). -#}
{% test unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
