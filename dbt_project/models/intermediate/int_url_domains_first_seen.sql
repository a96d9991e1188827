-- Grain: one row per tenant and link domain: the first message (by received_at, then message_id)
-- that linked to it. A message's link domain is "new to the tenant" exactly when that first
-- message is the message itself.

with

urls as (

    select distinct
        message_id,
        tenant_id,
        url_domain
    from {{ ref('stg_mail__urls') }}

),

messages as (

    select
        message_id,
        received_at
    from {{ ref('stg_mail__messages') }}

),

ranked as (

    select
        urls.tenant_id,
        urls.url_domain,
        urls.message_id,
        messages.received_at,
        row_number() over (
            partition by urls.tenant_id, urls.url_domain
            order by messages.received_at, urls.message_id
        ) as link_rank
    from urls
    inner join messages on urls.message_id = messages.message_id

)

select
    tenant_id,
    url_domain,
    received_at as first_seen_at,
    message_id as first_message_id
from ranked
where link_rank = 1
