-- Serving snapshot. Grain: one row per tenant and sender organisation domain.
select
    tenant_id,
    sender_org_domain,
    count(*) as prior_messages
from {{ ref('stg_mail__messages') }}
group by tenant_id, sender_org_domain
