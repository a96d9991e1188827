-- Grain: one row per tenant and sender organisation domain that became "known": the message
-- (by received_at, then message_id) that brought its count to known_domain_min_messages.
-- Messages after that one see the domain as known.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}

),

ranked as (

    select
        tenant_id,
        sender_org_domain,
        received_at,
        message_id,
        row_number() over (
            partition by tenant_id, sender_org_domain
            order by received_at, message_id
        ) as domain_rank
    from messages

)

select
    tenant_id,
    sender_org_domain,
    received_at as known_at,
    message_id as known_message_id
from ranked
where domain_rank = {{ var('known_domain_min_messages') }}
