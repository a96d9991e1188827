-- Grain: one row per tenant, normalised display name and sender address: when that address first
-- used that name. Messages without a display name are left out.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where sender_display_name is not null

),

ranked as (

    select
        tenant_id,
        sender_display_name,
        sender_address,
        sender_domain,
        received_at,
        message_id,
        row_number() over (
            partition by tenant_id, sender_display_name, sender_address
            order by received_at, message_id
        ) as use_rank
    from messages

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
