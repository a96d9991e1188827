{#- The point-in-time key tables share one shape: for every key that appears inside the run's
    window, rank the key's rows of `source` (a CTE already limited to mail before the window's
    end) by (received_at, message_id) and keep `keys`, `carried` columns, received_at, message_id
    and key_rank. The model selects the rank it needs (first message, the N-th, ...). On a first
    or full-refresh build the window is all of time, so every key is ranked. Where an engine
    rewrites whole tenants (rewrite_keys), every key of a tenant with mail in the window is. -#}
{% macro ranked_per_key(source, keys, carried=[]) -%}
{%- set touched_keys = rewrite_keys(keys) -%}
touched as (

    select distinct {{ touched_keys | join(', ') }}
    from {{ source }}
    where received_at >= {{ window_start() }}

),

ranked as (

    select
        {%- for column in keys + carried %}
        {{ source }}.{{ column }},
        {%- endfor %}
        {{ source }}.received_at,
        {{ source }}.message_id,
        row_number() over (
            partition by {% for key in keys %}{{ source }}.{{ key }}{{ ", " if not loop.last }}{% endfor %}
            order by {{ source }}.received_at, {{ source }}.message_id
        ) as key_rank
    from {{ source }}
    inner join touched
        on {% for key in touched_keys %}{{ source }}.{{ key }} = touched.{{ key }}{{ " and " if not loop.last }}{% endfor %}

)
{%- endmacro %}
