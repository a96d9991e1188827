with

source as (

    select * from {{ source('mail', 'messages') }}

),

renamed as (

    select
        message_id,
        tenant_id,
        received_at,
        lower(sender_address) as sender_address,
        lower(sender_domain) as sender_domain,
        lower(sender_org_domain) as sender_org_domain,
        nullif(sender_name_key, '') as sender_display_name,
        coalesce(lower(primary_recipient), '') as primary_recipient_address,
        coalesce(lower({{ dbt.split_part('primary_recipient', "'@'", -1) }}), '')
            as primary_recipient_domain,
        recipient_count,
        label,
        category,
        source as mail_source,
        label = 'attack' as is_attack
    from source

)

select * from renamed
