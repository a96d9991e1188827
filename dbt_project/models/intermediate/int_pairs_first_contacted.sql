-- Grain: one row per tenant, sender and primary recipient: the first message between them.
-- Used to answer "had the recipient ever written to this sender before this message?".

with

messages as (

    select * from {{ ref('stg_mail__messages') }}

),

ranked as (

    select
        tenant_id,
        sender_address,
        primary_recipient_address,
        received_at,
        message_id,
        row_number() over (
            partition by tenant_id, sender_address, primary_recipient_address
            order by received_at, message_id
        ) as contact_rank
    from messages

)

select
    tenant_id,
    sender_address,
    primary_recipient_address,
    received_at as first_contacted_at,
    message_id as first_message_id
from ranked
where contact_rank = 1
