-- Serving snapshot. Grain: one row per tenant and link domain seen in its mail.
select
    tenant_id,
    url_domain
from {{ ref('int_url_domains_first_seen') }}
