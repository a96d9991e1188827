{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_address'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

-- Grain: one row per tenant and sender address: its first message (by received_at, then
-- message_id). Incremental: only senders that wrote inside the run's window are recomputed, from
-- all mail before the window's end, so an earlier first message found later replaces the row.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ window_end() }}

),

touched as (

    select distinct
        tenant_id,
        sender_address
    from messages
    where received_at >= {{ window_start() }}

),

ranked as (

    select
        messages.tenant_id,
        messages.sender_address,
        messages.received_at,
        messages.message_id,
        row_number() over (
            partition by messages.tenant_id, messages.sender_address
            order by messages.received_at, messages.message_id
        ) as message_rank
    from messages
    inner join touched
        on
            messages.tenant_id = touched.tenant_id
            and messages.sender_address = touched.sender_address

)

select
    tenant_id,
    sender_address,
    received_at as first_seen_at,
    message_id as first_message_id
from ranked
where message_rank = 1
