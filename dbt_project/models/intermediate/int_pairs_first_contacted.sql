{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_address', 'primary_recipient_address'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

-- Grain: one row per tenant, sender and primary recipient: the first message between them.
-- Used to answer "had the recipient ever written to this sender before this message?" and to
-- derive the employee directory. Incremental like int_senders_first_seen.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ window_end() }}

),

touched as (

    select distinct
        tenant_id,
        sender_address,
        primary_recipient_address
    from messages
    where received_at >= {{ window_start() }}

),

ranked as (

    select
        messages.tenant_id,
        messages.sender_address,
        messages.sender_domain,
        messages.primary_recipient_address,
        messages.primary_recipient_domain,
        messages.received_at,
        messages.message_id,
        row_number() over (
            partition by
                messages.tenant_id,
                messages.sender_address,
                messages.primary_recipient_address
            order by messages.received_at, messages.message_id
        ) as contact_rank
    from messages
    inner join touched
        on
            messages.tenant_id = touched.tenant_id
            and messages.sender_address = touched.sender_address
            and messages.primary_recipient_address = touched.primary_recipient_address

)

select
    tenant_id,
    sender_address,
    sender_domain,
    primary_recipient_address,
    primary_recipient_domain,
    received_at as first_contacted_at,
    message_id as first_message_id
from ranked
where contact_rank = 1
