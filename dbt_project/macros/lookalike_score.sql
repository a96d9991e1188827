{#- How much candidate (a registrable domain) imitates target, exactly as
    detection.features.domains.lookalike_score: 0 when unrelated, identical or the target's name is shorter
    than 4 characters; 0.9 for the same name under another suffix; 0.8 for the target's name
    embedded in a longer one; 1.0 for one edit; 0.65 for two edits. -#}
{% macro lookalike_score(candidate, target) -%}
    {%- set c = dbt.split_part(candidate, "'.'", 1) -%}
    {%- set t = dbt.split_part(target, "'.'", 1) -%}
    case
        when {{ candidate }} = {{ target }} or {{ candidate }} = '' or {{ target }} = '' then 0.0
        when length({{ t }}) < 4 then 0.0
        when {{ c }} = {{ t }} then 0.9
        when {{ dbt.position(t, c) }} > 0 then 0.8
        when {{ edit_distance(c, t) }} = 1 then 1.0
        when {{ edit_distance(c, t) }} = 2 then 0.65
        else 0.0
    end
{%- endmacro %}

{#- Levenshtein distance; the function's name differs per engine. -#}
{% macro edit_distance(a, b) -%}
    {{ return(adapter.dispatch('edit_distance', 'attack_detection')(a, b)) }}
{%- endmacro %}

{% macro default__edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}

{% macro snowflake__edit_distance(a, b) -%}
    editdistance({{ a }}, {{ b }})
{%- endmacro %}

{% macro trino__edit_distance(a, b) -%}
    levenshtein_distance({{ a }}, {{ b }})
{%- endmacro %}
