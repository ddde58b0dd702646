-- grain: one current observation (country x year x indicator x sex x age x exploitation x citizenship x source)
with observations as (
    select * from current_observations
),

final as (
    select
        country, year, indicator, sex, age, exploitation, citizenship, source,
        value, status
    from observations
)

select * from final
