{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_display_name', 'sender_address'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

-- Grain: one row per tenant, normalised display name and sender address: when that address first
-- used that name. Messages without a display name are left out. Incremental like
-- int_senders_first_seen.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where sender_display_name is not null and received_at < {{ window_end() }}

),

touched as (

    select distinct
        tenant_id,
        sender_display_name,
        sender_address
    from messages
    where received_at >= {{ window_start() }}

),

ranked as (

    select
        messages.tenant_id,
        messages.sender_display_name,
        messages.sender_address,
        messages.sender_domain,
        messages.received_at,
        messages.message_id,
        row_number() over (
            partition by
                messages.tenant_id, messages.sender_display_name, messages.sender_address
            order by messages.received_at, messages.message_id
        ) as use_rank
    from messages
    inner join touched
        on
            messages.tenant_id = touched.tenant_id
            and messages.sender_display_name = touched.sender_display_name
            and messages.sender_address = touched.sender_address

)

select
    tenant_id,
    sender_display_name,
    sender_address,
    sender_domain,
    received_at as first_used_at,
    message_id as first_message_id
from ranked
where use_rank = 1
