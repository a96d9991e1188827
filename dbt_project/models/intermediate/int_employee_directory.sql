-- Grain: one row per tenant and internal sender address (an address that wrote to a recipient of
-- its own domain): the employee directory, derived from the mail itself. An employee becomes a
-- VIP with their first internal message addressed to at least vip_min_recipients people (an
-- all-hands note); vip_since is null until then. A group-by over all mail, so a plain table.

with

internal_mail as (

    select
        tenant_id,
        sender_address,
        sender_domain,
        received_at,
        message_id,
        recipient_count >= {{ var('vip_min_recipients') }} as is_wide_audience
    from {{ ref('stg_mail__messages') }}
    where sender_domain = primary_recipient_domain and sender_domain <> ''

),

ranked as (

    select
        tenant_id,
        sender_address,
        sender_domain,
        received_at,
        message_id,
        is_wide_audience,
        row_number() over (
            partition by tenant_id, sender_address
            order by received_at, message_id
        ) as internal_rank,
        row_number() over (
            partition by tenant_id, sender_address, is_wide_audience
            order by received_at, message_id
        ) as audience_rank
    from internal_mail

)

select
    tenant_id,
    sender_address as employee_address,
    sender_domain as employee_domain,
    min(case when internal_rank = 1 then received_at end) as employee_since,
    min(case when is_wide_audience and audience_rank = 1 then received_at end) as vip_since,
    min(case when is_wide_audience and audience_rank = 1 then message_id end) as vip_message_id
from ranked
group by tenant_id, sender_address, sender_domain
