-- Serving snapshot and recipient profile. Grain: one row per tenant and primary recipient: all
-- mail seen so far, how much of it came from first-time senders, and how many attacks they were
-- sent (a targeting profile for reports; labels are not a serving feature).
select
    tenant_id,
    primary_recipient_address as recipient_address,
    count(*) as prior_messages,
    cast(sum(case when sender_prior_messages = 0 then 1 else 0 end) as bigint)
        as prior_from_first_time_senders,
    cast(sum(case when is_attack then 1 else 0 end) as bigint) as prior_attacks_received
from {{ ref('int_messages_windowed') }}
group by tenant_id, primary_recipient_address
