{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'sender_org_domain'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

-- Grain: one row per tenant and sender organisation domain that became "known": the message
-- (by received_at, then message_id) that brought its count to known_domain_min_messages.
-- Messages after that one see the domain as known. Incremental like int_senders_first_seen: a
-- domain touched in the window gets its row once it has enough mail before the window's end.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}
    where received_at < {{ window_end() }}

),

touched as (

    select distinct
        tenant_id,
        sender_org_domain
    from messages
    where received_at >= {{ window_start() }}

),

ranked as (

    select
        messages.tenant_id,
        messages.sender_org_domain,
        messages.received_at,
        messages.message_id,
        row_number() over (
            partition by messages.tenant_id, messages.sender_org_domain
            order by messages.received_at, messages.message_id
        ) as domain_rank
    from messages
    inner join touched
        on
            messages.tenant_id = touched.tenant_id
            and messages.sender_org_domain = touched.sender_org_domain

)

select
    tenant_id,
    sender_org_domain,
    received_at as known_at,
    message_id as known_message_id
from ranked
where domain_rank = {{ var('known_domain_min_messages') }}
