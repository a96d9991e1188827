-- Serving snapshot: the employee/VIP directory derived from the mail. Grain: one row per tenant and
-- internal sender address.
select
    tenant_id,
    employee_address,
    employee_domain,
    employee_since,
    vip_since is not null as is_vip
from {{ ref('int_employee_directory') }}
