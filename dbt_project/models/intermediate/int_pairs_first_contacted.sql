{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_address', 'primary_recipient_address'],
    partition_by=rewrite_partition(['tenant_id']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per tenant, sender and primary recipient: the first message between them.
-- Used to answer "had the recipient ever written to this sender before this message?".
-- Incremental like int_senders_first_seen.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ key_history_end() }}

),

{{ ranked_per_key(
    'messages',
    ['tenant_id', 'sender_address', 'primary_recipient_address'],
    ['sender_domain', 'primary_recipient_domain']
) }}

select
    tenant_id,
    sender_address,
    sender_domain,
    primary_recipient_address,
    primary_recipient_domain,
    received_at as first_contacted_at,
    message_id as first_message_id
from ranked
where key_rank = 1
