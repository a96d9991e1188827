{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_org_domain'],
    partition_by=rewrite_partition(['tenant_id']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per tenant and sender organisation domain that became "known": the message
-- (by received_at, then message_id) that brought its count to known_domain_min_messages.
-- Messages after that one see the domain as known. Incremental like int_senders_first_seen: a
-- domain touched in the window gets its row once it has enough mail before the window's end.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ key_history_end() }}

),

{{ ranked_per_key('messages', ['tenant_id', 'sender_org_domain']) }}

select
    tenant_id,
    sender_org_domain,
    received_at as known_at,
    message_id as known_message_id
from ranked
where key_rank = {{ var('known_domain_min_messages') }}
