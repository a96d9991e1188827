{#- True when event (a_at, a_id) arrived strictly before (b_at, b_id): ties on the timestamp are
    broken by message id, so the order of messages is total and deterministic. -#}
{% macro arrived_before(a_at, a_id, b_at, b_id) -%}
    ({{ a_at }} < {{ b_at }} or ({{ a_at }} = {{ b_at }} and {{ a_id }} < {{ b_id }}))
{%- endmacro %}
