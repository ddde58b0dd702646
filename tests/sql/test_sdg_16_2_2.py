from __future__ import annotations

import duckdb

from tipstats import sql_runner


def test_series_by_form_with_rates_and_censored_bounds() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 50, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', 'F', 'Y0T17', '_T', '_T', 12, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', 'SEXUAL', '_T', 30, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', 'FORCED_LABOUR', '_T', null, 'C'),
            -- begging and forced marriage roll up to the SDG "other purposes" series
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', 'BEGGING', '_T', 6, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', 'FORCED_MARRIAGE', '_T', 4, 'A'),
            -- UNKNOWN form is in no series; citizenship breakdowns and convictions are not 16.2.2
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', 'UNKNOWN', '_T', 8, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NATIONALS', 20, 'A'),
            ('AUT', 2020, 'PERSONS_CONVICTED', '_T', '_T', '_T', '_T', 3, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('WORLD', 'WLD', 'World', 'AUT', 'WLD', 'World')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute(
        "create table ref_population as select 'AUT' as iso3, 2020 as year, 1e6 as population"
    )
    con.execute("""
        create table ref_rollups as select * from (values
            ('SDG', '_T', '_T'), ('SDG', 'SEXUAL', 'SEXUAL'),
            ('SDG', 'FORCED_LABOUR', 'FORCED_LABOUR'), ('SDG', 'BEGGING', 'OTHER'),
            ('SDG', 'FORCED_MARRIAGE', 'OTHER'), ('SDG', 'UNKNOWN', 'UNKNOWN'),
            ('DATAUNODC', 'BEGGING', 'OTHER')
        ) t(target, code, rolled_code)
    """)
    sql_runner.run(con)
    got = con.execute(
        "select series, country, year, sex, age, exploitation, value, value_low, value_high, "
        "status, population, rate_per_100k from sdg_16_2_2 order by series, sex, age"
    ).fetchall()
    assert got == [
        ("VC_HTF_DETV", "AUT", 2020, "F", "Y0T17", "_T", 12, 12, 12, "A", 1e6, 1.2),
        ("VC_HTF_DETV", "AUT", 2020, "_T", "_T", "_T", 50, 50, 50, "A", 1e6, 5.0),
        ("VC_HTF_DETVFL", "AUT", 2020, "_T", "_T", "FORCED_LABOUR", None, 0, 4, "C", 1e6, None),
        ("VC_HTF_DETVOP", "AUT", 2020, "_T", "_T", "OTHER", 10, 10, 10, "A", 1e6, 1.0),
        ("VC_HTF_DETVSX", "AUT", 2020, "_T", "_T", "SEXUAL", 30, 30, 30, "A", 1e6, 3.0),
    ]
    # the SDMX key (series, country, sex, age, year) is unique: each series carries one form
    assert con.execute(
        "select count(*) - count(distinct (series, country, sex, age, year)) from sdg_16_2_2"
    ).fetchone() == (0,)
