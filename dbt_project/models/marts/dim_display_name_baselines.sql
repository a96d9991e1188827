-- Serving snapshot. Grain: one row per tenant, normalised display name and sender address.
select
    tenant_id,
    sender_display_name as display_name,
    sender_address,
    sender_domain
from {{ ref('int_display_names_first_used') }}
