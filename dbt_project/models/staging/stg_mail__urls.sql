with

source as (

    select * from {{ source('mail', 'urls') }}

),

renamed as (

    select
        message_id,
        tenant_id,
        lower(url_host) as url_host,
        lower(url_domain) as url_domain
    from source

)

select * from renamed
