{{ config(
    materialized='incremental',
    unique_key='message_id',
    partition_by=rewrite_partition(['received_day']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- The behavioural feature mart the model reads. Grain: one row per message. Pair and recipient
-- features use the message's primary recipient. Every value uses only earlier mail of the same
-- tenant; the online scorer computes the same values from the serving snapshot
-- (detection/features/behaviour.py). Incremental: a run rewrites the messages of its partition
-- window. Unknown history is null (the final CTE). Adding a feature: docs/adding-a-feature.md.

with

windowed as (

    select * from {{ ref('int_messages_windowed') }}
    where received_at >= {{ window_start() }} and received_at < {{ window_end() }}

),

employees as (

    select * from {{ ref('int_employee_directory') }}
    where vip_since is not null

),

first_contacts as (

    select * from {{ ref('int_pairs_first_contacted') }}

),

name_uses as (

    select * from {{ ref('int_display_names_first_used') }}

),

known_domains as (

    select * from {{ ref('int_org_domains_known') }}

),

candidate_domains as (

    -- the domains of a message that may imitate a known one: its sender's and its links'
    select
        message_id,
        tenant_id,
        received_at,
        sender_org_domain as candidate_domain,
        'sender' as candidate_role
    from windowed
    union all
    select distinct
        windowed.message_id,
        windowed.tenant_id,
        windowed.received_at,
        links.url_domain as candidate_domain,
        'link' as candidate_role
    from windowed
    inner join {{ ref('stg_mail__urls') }} as links on windowed.message_id = links.message_id

),

similar_known as (

    -- each distinct candidate domain scored once against every domain its tenant ever knew,
    -- keeping the few pairs with any resemblance (the expensive string distance runs per distinct
    -- pair, not per message)
    select
        candidates.tenant_id,
        candidates.candidate_domain,
        known_domains.known_at,
        known_domains.known_message_id,
        {{ lookalike_score('candidates.candidate_domain', 'known_domains.sender_org_domain') }}
            as resemblance
    from (
        select distinct
            tenant_id,
            candidate_domain
        from candidate_domains
    ) as candidates
    inner join known_domains on candidates.tenant_id = known_domains.tenant_id
    where
        {{ lookalike_score('candidates.candidate_domain', 'known_domains.sender_org_domain') }}
        > 0

),

self_known as (

    -- candidates that were themselves known before the message
    select distinct
        candidate_domains.message_id,
        candidate_domains.candidate_domain
    from candidate_domains
    inner join known_domains
        on
            candidate_domains.tenant_id = known_domains.tenant_id
            and candidate_domains.candidate_domain = known_domains.sender_org_domain
    where {{ arrived_before(
        'known_domains.known_at', 'known_domains.known_message_id',
        'candidate_domains.received_at', 'candidate_domains.message_id') }}

),

candidate_lookalikes as (

    -- per candidate: 0 when it is itself known, else its strongest imitation of a domain known
    -- before the message
    select
        candidate_domains.message_id,
        candidate_domains.candidate_role,
        candidate_domains.candidate_domain,
        case
            when max(self_known.message_id) is not null then 0.0
            else coalesce(max(similar_known.resemblance), 0.0)
        end as lookalike
    from candidate_domains
    left join self_known
        on
            candidate_domains.message_id = self_known.message_id
            and candidate_domains.candidate_domain = self_known.candidate_domain
    left join similar_known
        on
            candidate_domains.tenant_id = similar_known.tenant_id
            and candidate_domains.candidate_domain = similar_known.candidate_domain
            and {{ arrived_before(
                'similar_known.known_at', 'similar_known.known_message_id',
                'candidate_domains.received_at', 'candidate_domains.message_id') }}
    group by
        candidate_domains.message_id,
        candidate_domains.candidate_role,
        candidate_domains.candidate_domain

),

lookalikes as (

    select
        message_id,
        max(case when candidate_role = 'sender' then lookalike end) as sender_lookalike,
        max(case when candidate_role = 'link' then lookalike end) as url_lookalike
    from candidate_lookalikes
    group by message_id

),

new_link_domains as (

    select
        windowed.message_id,
        count(*) as url_domains_new_to_tenant,
        sum(case
            when first_seen.url_domain <> windowed.sender_org_domain then 1 else 0
        end) as foreign_new_link_domains
    from {{ ref('int_url_domains_first_seen') }} as first_seen
    inner join windowed on first_seen.first_message_id = windowed.message_id
    group by windowed.message_id

),

replies as (

    select windowed.message_id
    from windowed
    inner join first_contacts
        on
            windowed.tenant_id = first_contacts.tenant_id
            and windowed.primary_recipient_address = first_contacts.sender_address
            and windowed.sender_address = first_contacts.primary_recipient_address
    where {{ arrived_before(
        'first_contacts.first_contacted_at', 'first_contacts.first_message_id',
        'windowed.received_at', 'windowed.message_id') }}

),

name_history as (

    select
        windowed.message_id,
        count(distinct case
            when name_uses.sender_address <> windowed.sender_address
                then name_uses.sender_address
        end) as display_name_prior_addresses,
        max(case
            when
                name_uses.sender_domain = windowed.primary_recipient_domain
                and windowed.sender_domain <> windowed.primary_recipient_domain
                then 1
            else 0
        end) as display_name_seen_internal,
        max(case
            when
                vips.employee_address is not null
                and windowed.sender_domain <> windowed.primary_recipient_domain
                then 1
            else 0
        end) as display_name_vip_external
    from windowed
    inner join name_uses
        on
            windowed.tenant_id = name_uses.tenant_id
            and windowed.sender_display_name = name_uses.sender_display_name
    left join employees as vips
        on
            name_uses.tenant_id = vips.tenant_id
            and name_uses.sender_address = vips.employee_address
            and {{ arrived_before(
                'vips.vip_since', 'vips.vip_message_id',
                'windowed.received_at', 'windowed.message_id') }}
    where {{ arrived_before(
        'name_uses.first_used_at', 'name_uses.first_message_id',
        'windowed.received_at', 'windowed.message_id') }}
    group by windowed.message_id

),

computed as (

    select
        windowed.message_id,
        windowed.tenant_id,
        windowed.received_at,
        windowed.tenant_prior_messages > 0
        and windowed.tenant_id not like '{{ var("pooled_tenant_prefix") }}%' as has_history,
        cast(least(windowed.sender_prior_messages, {{ var('history_cap') }}) as double)
            as sender_prior_messages,
        case
            when windowed.sender_first_seen_at is not null
                then least(
                    {{ days_between('windowed.sender_first_seen_at', 'windowed.received_at') }},
                    {{ var('age_cap_days') }}
                )
        end as sender_days_since_first_seen,
        cast(least(windowed.pair_prior_messages, {{ var('history_cap') }}) as double)
            as pair_prior_messages,
        cast(case when replies.message_id is not null then 1 else 0 end as double)
            as recipient_has_replied,
        cast(least(windowed.domain_prior_messages, {{ var('history_cap') }}) as double)
            as domain_prior_messages,
        case
            when windowed.domain_first_seen_at is not null
                then least(
                    {{ days_between('windowed.domain_first_seen_at', 'windowed.received_at') }},
                    {{ var('age_cap_days') }}
                )
        end as domain_days_since_first_seen,
        cast(coalesce(name_history.display_name_prior_addresses, 0) as double)
            as display_name_prior_addresses,
        cast(coalesce(name_history.display_name_seen_internal, 0) as double)
            as display_name_seen_internal,
        cast(coalesce(name_history.display_name_vip_external, 0) as double)
            as display_name_vip_external,
        case
            when windowed.recipient_prior_messages > 0
                then
                    cast(windowed.recipient_prior_from_first_time_senders as double)
                    / windowed.recipient_prior_messages
        end as recipient_first_time_sender_share,
        cast(coalesce(new_link_domains.url_domains_new_to_tenant, 0) as double)
            as url_domains_new_to_tenant,
        cast(case
            when windowed.sender_prior_messages > 0
                then coalesce(new_link_domains.foreign_new_link_domains, 0)
            else 0
        end as double) as known_sender_new_link_domains,
        cast(coalesce(lookalikes.sender_lookalike, 0.0) as double)
            as sender_lookalike_of_known_domain,
        cast(coalesce(lookalikes.url_lookalike, 0.0) as double) as url_lookalike_of_known_domain
    from windowed
    left join replies on windowed.message_id = replies.message_id
    left join name_history on windowed.message_id = name_history.message_id
    left join new_link_domains on windowed.message_id = new_link_domains.message_id
    left join lookalikes on windowed.message_id = lookalikes.message_id

),

final as (

    -- Unknown history is missing, not "new": a message whose tenant has no earlier mail (its
    -- first message), or whose tenant is a pooled corpus of unrelated mailboxes, gets null for
    -- every behavioural feature (var behaviour_features: the declaration in Python).
    select
        message_id,
        tenant_id,
        received_at,
        {% for feature in var('behaviour_features', []) %}
            case when has_history then {{ feature }} end as {{ feature }},
        {% endfor %}
        -- the day an incremental run rewrites whole on partition-overwrite engines (last: where
        -- it is a partition column, the engine stores it last)
        {{ utc_date('received_at') }} as received_day
    from computed

)

select * from final
