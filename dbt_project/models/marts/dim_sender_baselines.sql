-- Serving snapshot. Grain: one row per tenant and sender address: all mail seen so far.
select
    tenant_id,
    sender_address,
    count(*) as prior_messages,
    min(received_at) as first_seen_at
from {{ ref('stg_mail__messages') }}
group by tenant_id, sender_address
