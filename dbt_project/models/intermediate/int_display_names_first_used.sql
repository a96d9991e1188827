{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_display_name', 'sender_address'],
    partition_by=rewrite_partition(['tenant_id']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per tenant, normalised display name and sender address: when that address first
-- used that name. Messages without a display name are left out. Incremental like
-- int_senders_first_seen.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where sender_display_name is not null and received_at < {{ key_history_end() }}

),

{{ ranked_per_key(
    'messages', ['tenant_id', 'sender_display_name', 'sender_address'], ['sender_domain']
) }}

select
    tenant_id,
    sender_display_name,
    sender_address,
    sender_domain,
    received_at as first_used_at,
    message_id as first_message_id
from ranked
where key_rank = 1
