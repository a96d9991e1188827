{{ config(
    materialized='incremental',
    unique_key='message_id',
    partition_by=rewrite_partition(['received_day']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per message. Sender, pair, sender-domain and recipient history, using only mail
-- of the same tenant that arrived strictly before the message, ordered by (received_at,
-- message_id) so equal timestamps are broken deterministically and a message never sees itself
-- or anything after it.
--
-- Incremental by partition window: history before the window is aggregated once per key (a
-- group-by, no sort), and only the window's messages are ordered; each value is the history
-- aggregate plus the running count inside the window. A full build is the same query with an
-- empty history and a window covering all mail.

with

messages as (

    select * from {{ ref('stg_mail__messages') }}

),

history as (

    select * from messages
    where received_at < {{ window_start() }}

),

current_window as (

    select * from messages
    where received_at >= {{ window_start() }} and received_at < {{ window_end() }}

),

tenant_before as (

    select
        tenant_id,
        count(*) as prior_messages
    from history
    group by tenant_id

),

sender_before as (

    select
        tenant_id,
        sender_address,
        count(*) as prior_messages,
        min(received_at) as first_seen_at
    from history
    group by tenant_id, sender_address

),

pair_before as (

    select
        tenant_id,
        sender_address,
        primary_recipient_address,
        count(*) as prior_messages
    from history
    group by tenant_id, sender_address, primary_recipient_address

),

domain_before as (

    select
        tenant_id,
        sender_domain,
        count(*) as prior_messages,
        min(received_at) as first_seen_at
    from history
    group by tenant_id, sender_domain

),

recipient_before as (

    -- a message came from a first-time sender when it is its sender's first message
    select
        history.tenant_id,
        history.primary_recipient_address,
        count(*) as prior_messages,
        count(first_senders.first_message_id) as prior_from_first_time_senders
    from history
    left join {{ ref('int_senders_first_seen') }} as first_senders
        on history.message_id = first_senders.first_message_id
    group by history.tenant_id, history.primary_recipient_address

),

window_running as (

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
        is_attack,
        count(*) over tenant_history as tenant_window_messages,
        count(*) over sender_history as sender_window_messages,
        min(received_at) over sender_history as sender_window_first_seen_at,
        count(*) over pair_history as pair_window_messages,
        count(*) over domain_history as domain_window_messages,
        min(received_at) over domain_history as domain_window_first_seen_at
    from current_window
    window
        tenant_history as (
            partition by tenant_id
            order by received_at, message_id
            rows between unbounded preceding and 1 preceding
        ),
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

),

with_history as (

    select
        window_running.message_id,
        window_running.tenant_id,
        window_running.received_at,
        window_running.sender_address,
        window_running.sender_domain,
        window_running.sender_org_domain,
        window_running.sender_display_name,
        window_running.primary_recipient_address,
        window_running.primary_recipient_domain,
        window_running.is_attack,
        coalesce(tenant_before.prior_messages, 0) + window_running.tenant_window_messages
            as tenant_prior_messages,
        coalesce(sender_before.prior_messages, 0) + window_running.sender_window_messages
            as sender_prior_messages,
        coalesce(sender_before.first_seen_at, window_running.sender_window_first_seen_at)
            as sender_first_seen_at,
        coalesce(pair_before.prior_messages, 0) + window_running.pair_window_messages
            as pair_prior_messages,
        coalesce(domain_before.prior_messages, 0) + window_running.domain_window_messages
            as domain_prior_messages,
        coalesce(domain_before.first_seen_at, window_running.domain_window_first_seen_at)
            as domain_first_seen_at
    from window_running
    left join tenant_before on window_running.tenant_id = tenant_before.tenant_id
    left join sender_before
        on
            window_running.tenant_id = sender_before.tenant_id
            and window_running.sender_address = sender_before.sender_address
    left join pair_before
        on
            window_running.tenant_id = pair_before.tenant_id
            and window_running.sender_address = pair_before.sender_address
            and window_running.primary_recipient_address = pair_before.primary_recipient_address
    left join domain_before
        on
            window_running.tenant_id = domain_before.tenant_id
            and window_running.sender_domain = domain_before.sender_domain

),

final as (

    select
        with_history.*,
        coalesce(recipient_before.prior_messages, 0)
        + count(*) over recipient_history as recipient_prior_messages,
        coalesce(recipient_before.prior_from_first_time_senders, 0)
        + coalesce(sum(case when with_history.sender_prior_messages = 0 then 1 else 0 end)
            over recipient_history, 0) as recipient_prior_from_first_time_senders,
        -- the day partition-overwrite engines rewrite whole (incremental_rewrite.sql)
        {{ utc_date('with_history.received_at') }} as received_day
    from with_history
    left join recipient_before
        on
            with_history.tenant_id = recipient_before.tenant_id
            and with_history.primary_recipient_address
            = recipient_before.primary_recipient_address
    window recipient_history as (
        partition by with_history.tenant_id, with_history.primary_recipient_address
        order by with_history.received_at, with_history.message_id
        rows between unbounded preceding and 1 preceding
    )

)

select * from final
