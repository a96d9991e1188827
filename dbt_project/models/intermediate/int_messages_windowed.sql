-- Per message: sender, pair (sender -> primary recipient) and sender-domain history, using only
-- mail of the same tenant that arrived strictly before it. The window frame ends one row before
-- the current row and rows are ordered by (received_at, message_id), so equal timestamps are broken
-- deterministically and a message never sees itself or anything after it.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}

),

windowed as (

    select
        message_id,
        tenant_id,
        received_at,
        sender_address,
        sender_domain,
        sender_org_domain,
        sender_display_name,
        primary_recipient_address,
        primary_recipient_domain,
        count(*) over sender_history as sender_prior_messages,
        min(received_at) over sender_history as sender_first_seen_at,
        count(*) over pair_history as pair_prior_messages,
        count(*) over domain_history as domain_prior_messages,
        min(received_at) over domain_history as domain_first_seen_at
    from messages
    window
        sender_history as (
            partition by tenant_id, sender_address
            order by received_at, message_id
            rows between unbounded preceding and 1 preceding
        ),
        pair_history as (
            partition by tenant_id, sender_address, primary_recipient_address
            order by received_at, message_id
            rows between unbounded preceding and 1 preceding
        ),
        domain_history as (
            partition by tenant_id, sender_domain
            order by received_at, message_id
            rows between unbounded preceding and 1 preceding
        )

)

select * from windowed
