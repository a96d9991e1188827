-- Serving snapshot. Grain: one row per tenant, sender and primary recipient.
select
    tenant_id,
    sender_address,
    primary_recipient_address as recipient_address,
    count(*) as prior_messages
from {{ ref('stg_mail__messages') }}
group by tenant_id, sender_address, primary_recipient_address
