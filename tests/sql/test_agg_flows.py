from __future__ import annotations

import duckdb

from tipstats import sql_runner


def test_flows_from_citizenship_against_the_detecting_country() -> None:
    con = duckdb.connect(":memory:")
    con.execute("""
        create table current_observations as select *, 'OTHER' as source from (values
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NATIONALS', 5.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'DEU', 3.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'FRA', 2.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'NGA', 7.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', 'UNKNOWN', 3.0, 'A'),
            ('AUT', 2020, 'VICTIMS_DETECTED', '_T', '_T', '_T', '_T', 20.0, 'A')
        ) t(country, year, indicator, sex, age, exploitation, citizenship, value, status)
    """)
    con.execute("""
        create table ref_region_members as select * from (values
            ('GLOTIP', 'EUR', 'Europe', 'AUT', 'WCE', 'Western and Central Europe'),
            ('GLOTIP', 'EUR', 'Europe', 'DEU', 'WCE', 'Western and Central Europe'),
            ('GLOTIP', 'EUR', 'Europe', 'FRA', 'SEE', 'South-eastern Europe'),
            ('GLOTIP', 'AFR', 'Africa', 'NGA', 'WAF', 'West Africa')
        ) t(scheme, region_code, region_name, iso3, subregion_code, subregion_name)
    """)
    con.execute("create table ref_population (iso3 varchar, year integer, population double)")
    con.execute("create table ref_rollups (target varchar, code varchar, rolled_code varchar)")
    sql_runner.run(con)
    got = con.execute(
        "select flow, victims, share from agg_flows where region = 'EUR' order by flow"
    ).fetchall()
    assert got == [
        ("domestic", 5.0, 0.25),
        ("transregional", 7.0, 0.35),
        ("unattributable_unknown", 3.0, 0.15),
        ("within_region", 2.0, 0.10),
        ("within_subregion", 3.0, 0.15),
    ]
