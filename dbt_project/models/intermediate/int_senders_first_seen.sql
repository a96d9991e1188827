{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_address'],
    partition_by=rewrite_partition(['tenant_id']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per tenant and sender address: its first message (by received_at, then
-- message_id). Incremental: only senders that wrote inside the run's window are recomputed, from
-- all mail before the window's end, so an earlier first message found later replaces the row.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ key_history_end() }}

),

{{ ranked_per_key('messages', ['tenant_id', 'sender_address']) }}

select
    tenant_id,
    sender_address,
    received_at as first_seen_at,
    message_id as first_message_id
from ranked
where key_rank = 1
