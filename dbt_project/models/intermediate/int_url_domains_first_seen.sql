{{ config(
    materialized='incremental',
    unique_key=['tenant_id', 'url_domain'],
    partition_by=rewrite_partition(['tenant_id']),
    incremental_strategy=rewrite_strategy(),
    on_schema_change='fail'
) }}

-- Grain: one row per tenant and link domain: the first message (by received_at, then message_id)
-- that linked to it. A message's link domain is "new to the tenant" exactly when that first
-- message is the message itself. Incremental like int_senders_first_seen.

with

messages as (

    select
        message_id,
        received_at
    from {{ ref('stg_mail__messages') }}
    where received_at < {{ key_history_end() }}

),

links as (

    select distinct
        urls.message_id,
        urls.tenant_id,
        urls.url_domain,
        messages.received_at
    from {{ ref('stg_mail__urls') }} as urls
    inner join messages on urls.message_id = messages.message_id

),

{{ ranked_per_key('links', ['tenant_id', 'url_domain']) }}

select
    tenant_id,
    url_domain,
    received_at as first_seen_at,
    message_id as first_message_id
from ranked
where key_rank = 1
