with

source as (

    select * from {{ source('mail', 'recipients') }}

),

renamed as (

    select
        message_id,
        tenant_id,
        lower(recipient_address) as recipient_address,
        recipient_type,
        recipient_position
    from source

)

select * from renamed
