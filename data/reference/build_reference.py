"""Rebuild countries.csv, region_schemes.csv and population.csv from the public sources.

Run from the checkout with the project's Python:
    .venv/bin/python data/reference/build_reference.py /path/to/shared/research-data

The outputs are committed; the pipeline never reads the sources at run time. The GLOTIP
assignment is rule-based on M49 units plus the reviewed exceptions in ``GLOTIP_EXCEPTIONS``;
each exception carries a note so a reviewer can check it in region_schemes.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
GLOTIP_VERSION = "glotip-regions-2026.1"
FIRST_POPULATION_YEAR = 2000

M49_REGION_CODES = {
    "Africa": "002",
    "Americas": "019",
    "Asia": "142",
    "Europe": "150",
    "Oceania": "009",
}

SDG_REGIONS = {  # SDG regional groupings (UNSD codes) as unions of M49 sub-regions
    "202": ("Sub-Saharan Africa", {"Sub-Saharan Africa"}),
    "747": ("Northern Africa and Western Asia", {"Northern Africa", "Western Asia"}),
    "062": ("Central and Southern Asia", {"Central Asia", "Southern Asia"}),
    "753": ("Eastern and South-Eastern Asia", {"Eastern Asia", "South-eastern Asia"}),
    "419": ("Latin America and the Caribbean", {"Latin America and the Caribbean"}),
    "543": (
        "Oceania (excluding Australia and New Zealand)",
        {"Melanesia", "Micronesia", "Polynesia"},
    ),
    "053": ("Australia and New Zealand", {"Australia and New Zealand"}),
    "513": (
        "Europe and Northern America",
        {
            "Eastern Europe",
            "Northern Europe",
            "Southern Europe",
            "Western Europe",
            "Northern America",
        },
    ),
}

GLOTIP_REGIONS = {
    "NORTH_AMERICA": "North America",
    "CENTRAL_AMERICA_CARIBBEAN": "Central America and the Caribbean",
    "SOUTH_AMERICA": "South America",
    "WESTERN_SOUTHERN_EUROPE": "Western and Southern Europe",
    "CENTRAL_SOUTH_EASTERN_EUROPE": "Central and South-Eastern Europe",
    "EASTERN_EUROPE_CENTRAL_ASIA": "Eastern Europe and Central Asia",
    "NORTH_AFRICA_MIDDLE_EAST": "North Africa and the Middle East",
    "SUB_SAHARAN_AFRICA": "Sub-Saharan Africa",
    "SOUTH_ASIA": "South Asia",
    "EAST_ASIA_PACIFIC": "East Asia and the Pacific",
}

# Default GLOTIP region per M49 (intermediate region, else sub-region).
GLOTIP_BY_M49_UNIT = {
    "Northern America": "NORTH_AMERICA",
    "Central America": "CENTRAL_AMERICA_CARIBBEAN",
    "Caribbean": "CENTRAL_AMERICA_CARIBBEAN",
    "South America": "SOUTH_AMERICA",
    "Northern Europe": "WESTERN_SOUTHERN_EUROPE",
    "Western Europe": "WESTERN_SOUTHERN_EUROPE",
    "Southern Europe": "WESTERN_SOUTHERN_EUROPE",
    "Eastern Europe": "EASTERN_EUROPE_CENTRAL_ASIA",
    "Central Asia": "EASTERN_EUROPE_CENTRAL_ASIA",
    "Northern Africa": "NORTH_AFRICA_MIDDLE_EAST",
    "Western Asia": "NORTH_AFRICA_MIDDLE_EAST",
    "Eastern Africa": "SUB_SAHARAN_AFRICA",
    "Middle Africa": "SUB_SAHARAN_AFRICA",
    "Southern Africa": "SUB_SAHARAN_AFRICA",
    "Western Africa": "SUB_SAHARAN_AFRICA",
    "Southern Asia": "SOUTH_ASIA",
    "Eastern Asia": "EAST_ASIA_PACIFIC",
    "South-eastern Asia": "EAST_ASIA_PACIFIC",
    "Australia and New Zealand": "EAST_ASIA_PACIFIC",
    "Melanesia": "EAST_ASIA_PACIFIC",
    "Micronesia": "EAST_ASIA_PACIFIC",
    "Polynesia": "EAST_ASIA_PACIFIC",
}

# Reviewed exceptions to the rule above: iso3 -> (GLOTIP region, note).
GLOTIP_EXCEPTIONS = {
    "MEX": ("NORTH_AMERICA", "Global Report places Mexico in North America (DESIGN.md 4)"),
    "GRL": ("NORTH_AMERICA", "M49 Northern America; kept with North America"),
    "BMU": ("NORTH_AMERICA", "M49 Northern America; doubtful, could be Caribbean"),
    **{
        iso3: ("CENTRAL_SOUTH_EASTERN_EUROPE", "Central Europe and the Balkans in the Report")
        for iso3 in (
            "ALB",
            "BIH",
            "BGR",
            "HRV",
            "CZE",
            "HUN",
            "MNE",
            "MKD",
            "POL",
            "ROU",
            "SRB",
            "SVK",
            "SVN",
            "XKX",
        )
    },
    **{
        iso3: (
            "EASTERN_EUROPE_CENTRAL_ASIA",
            "South Caucasus reported with Eastern Europe and Central Asia; M49 Western Asia",
        )
        for iso3 in ("ARM", "AZE", "GEO")
    },
    "EST": ("CENTRAL_SOUTH_EASTERN_EUROPE", "doubtful: Baltic states placed with Central Europe"),
    "LVA": ("CENTRAL_SOUTH_EASTERN_EUROPE", "doubtful: Baltic states placed with Central Europe"),
    "LTU": ("CENTRAL_SOUTH_EASTERN_EUROPE", "doubtful: Baltic states placed with Central Europe"),
    "TUR": (
        "CENTRAL_SOUTH_EASTERN_EUROPE",
        "doubtful: M49 Western Asia; Report groups Türkiye with South-Eastern Europe",
    ),
    "CYP": (
        "WESTERN_SOUTHERN_EUROPE",
        "M49 Western Asia; EU member, with Western and Southern Europe",
    ),
    "IRN": ("SOUTH_ASIA", "doubtful: M49 Southern Asia; sometimes with the Middle East"),
    "SDN": ("NORTH_AFRICA_MIDDLE_EAST", "M49 Northern Africa"),
    "TWN": ("EAST_ASIA_PACIFIC", "no M49 region in the source; Eastern Asia"),
    "ATA": ("EAST_ASIA_PACIFIC", "placeholder: Antarctica has no population or data"),
}

EXTRA_COUNTRIES = [  # areas that appear in the data but not in ISO 3166-1
    {
        "name": "Kosovo",
        "alpha-2": "XK",
        "alpha-3": "XKX",
        "country-code": "412",
        "region": "Europe",
        "sub-region": "Southern Europe",
        "intermediate-region": "",
        "note": "Kosovo under UNSCR 1244; user-assigned ISO code XKX, M49 code as used by the "
        "World Bank/UNODC, placed in Southern Europe",
    },
]
NO_REGION_FIXES = {  # M49 region/sub-region for areas the source leaves empty
    "TWN": ("Asia", "Eastern Asia", "no M49 region in the source; placed in Eastern Asia"),
    "ATA": ("Antarctica", "Antarctica", "no M49 region: placeholder region 'Antarctica'"),
}


def build_countries(research: Path) -> pd.DataFrame:
    raw = pd.read_csv(research / "m49/lukes_iso3166_m49_all.csv", dtype=str, keep_default_na=False)
    raw["note"] = ""
    raw = pd.concat([raw, pd.DataFrame(EXTRA_COUNTRIES)], ignore_index=True).fillna("")
    for iso3, (region, subregion, note) in NO_REGION_FIXES.items():
        mask = raw["alpha-3"] == iso3
        raw.loc[mask, ["region", "sub-region", "note"]] = [region, subregion, note]
    countries = pd.DataFrame(
        {
            "iso3": raw["alpha-3"],
            "iso2": raw["alpha-2"],
            "m49": raw["country-code"].str.zfill(3),
            "name_en": raw["name"],
            "m49_region": raw["region"],
            "m49_subregion": raw["sub-region"],
            "m49_intermediate_region": raw["intermediate-region"],
            "note": raw["note"],
        }
    )
    # Antarctica has no M49 or SDG region: the same documented placeholder in every scheme.
    sdg = countries["m49_subregion"].map(_sdg_region_name)
    countries["sdg_region"] = sdg.fillna(countries["m49_region"]).fillna("")
    glotip = countries.apply(_glotip_region, axis=1, result_type="expand")
    countries["glotip_region"] = glotip[0].map(GLOTIP_REGIONS)
    countries["glotip_note"] = glotip[1]
    return countries.sort_values("iso3").reset_index(drop=True)


def _sdg_region_name(subregion: str) -> str | None:
    for name, members in SDG_REGIONS.values():
        if subregion in members:
            return name
    return None


def _glotip_region(country: pd.Series) -> tuple[str, str]:
    if country["iso3"] in GLOTIP_EXCEPTIONS:
        return GLOTIP_EXCEPTIONS[country["iso3"]]
    unit = country["m49_intermediate_region"] or country["m49_subregion"]
    return GLOTIP_BY_M49_UNIT[unit], ""


def build_region_schemes(countries: pd.DataFrame) -> pd.DataFrame:
    sdg_code = {name: code for code, (name, _) in SDG_REGIONS.items()}
    rows = []
    for c in countries.itertuples():
        # M49 sub-region at its finest published level (intermediate region where there is one),
        # so that "within sub-region" flows are meaningful in Africa and Latin America.
        subregion = c.m49_intermediate_region or c.m49_subregion
        rows.append(
            (
                "M49",
                M49_REGION_CODES.get(c.m49_region, "ANT"),
                c.m49_region,
                c.iso3,
                _slug(subregion),
                subregion,
                "M49",
                c.note,
            )
        )
        sdg_name = c.sdg_region or "Antarctica"
        rows.append(
            (
                "SDG",
                sdg_code.get(sdg_name, "ANT"),
                sdg_name,
                c.iso3,
                _slug(subregion),
                subregion,
                "SDG",
                c.note,
            )
        )
        glotip_code = next(k for k, v in GLOTIP_REGIONS.items() if v == c.glotip_region)
        rows.append(
            ("GLOTIP", glotip_code, c.glotip_region, c.iso3, "", "", GLOTIP_VERSION, c.glotip_note)
        )
        rows.append(("WORLD", "WORLD", "World", c.iso3, glotip_code, c.glotip_region, "WORLD", ""))
    columns = [
        "scheme",
        "region_code",
        "region_name",
        "iso3",
        "subregion_code",
        "subregion_name",
        "version",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.upper()).strip("_")


def build_population(research: Path, countries: pd.DataFrame) -> pd.DataFrame:
    wb = pd.read_csv(research / "population/worldbank_SP.POP.TOTL.csv", keep_default_na=False)
    wb = wb.rename(columns={"Country Code": "iso3", "Year": "year", "Value": "population"})
    wb = wb[wb["iso3"].isin(countries["iso3"]) & (wb["year"] >= FIRST_POPULATION_YEAR)]
    wb = wb[pd.to_numeric(wb["population"], errors="coerce").notna()]
    wb["population"] = wb["population"].astype("int64")
    return wb[["iso3", "year", "population"]].sort_values(["iso3", "year"])


def main(research: Path) -> None:
    countries = build_countries(research)
    countries.to_csv(HERE / "countries.csv", index=False)
    build_region_schemes(countries).to_csv(HERE / "region_schemes.csv", index=False)
    build_population(research, countries).to_csv(HERE / "population.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared/research-data")
