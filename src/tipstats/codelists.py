"""Code lists and reference data: loaded once from ``data/reference/``, with look-ups.

Matching of labels is forgiving in the ways NSO files differ (case, accents, punctuation,
spacing, mojibake such as ``CÃ´te``) and strict in the way that matters: a label that is not
in the code lists is never guessed; ``lookup`` returns None and ``closest`` suggests codes.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from tipstats.home import reference_dir

DIMENSIONS = ("indicator", "sex", "age", "exploitation", "citizenship", "status", "source")
LANGUAGES = ("en", "fr", "es")
REFERENCE_FILES = (
    "codes.csv",
    "code_map.csv",
    "rollups.csv",
    "countries.csv",
    "region_schemes.csv",
    "population.csv",
    "country_name_map.csv",
    "header_aliases.csv",
    "source_precedence.csv",
    "sdg_series.csv",
    "share_groups.csv",
)

_KEEP = set("<>+=?_")
_SPACES = re.compile(r"\s+")
_MOJIBAKE_MARKERS = ("Ã", "Â", "â€")


def normalize_label(text: object) -> str:
    """A matching key: mojibake repaired, accents and case folded, punctuation as spaces.

    ``\\ufffd`` (a character lost to a wrong encoding) becomes ``?`` so that the reviewed map can
    name such damaged labels explicitly.
    """
    value = str(text).strip()
    if any(marker in value for marker in _MOJIBAKE_MARKERS):
        with contextlib.suppress(UnicodeError):
            value = value.encode("cp1252").decode("utf-8")
    value = value.replace("\ufffd", "?")
    decomposed = unicodedata.normalize("NFKD", value)
    chars = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        chars.append(ch if ch.isalnum() or ch in _KEEP or ch.isspace() else " ")
    return _SPACES.sub(" ", "".join(chars)).strip().casefold()


@dataclass
class CodeLists:
    code_table: pd.DataFrame
    code_map: pd.DataFrame
    rollups: pd.DataFrame
    countries: pd.DataFrame
    region_members: pd.DataFrame
    population: pd.DataFrame
    country_names: pd.DataFrame
    versions: pd.DataFrame
    _label_index: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _country_index: dict[str, str | None] = field(default_factory=dict, repr=False)
    _country_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for dimension in DIMENSIONS:
            index: dict[str, str] = {}
            table = self.code_table[self.code_table["dimension"] == dimension]
            for row in table.itertuples():
                for text in (row.code, row.label_en, row.label_fr, row.label_es):
                    index.setdefault(normalize_label(text), row.code)
            variants = self.code_map[self.code_map["dimension"] == dimension]
            for row in variants.itertuples():
                index.setdefault(normalize_label(row.label), row.code)
            self._label_index[dimension] = index
        for row in self.countries.itertuples():
            for text in (row.iso3, row.name_en):
                self._country_index.setdefault(normalize_label(text), row.iso3)
            self._country_index.setdefault(f"m49:{row.m49}", row.iso3)
        for row in self.country_names.itertuples():
            self._country_index[normalize_label(row.label)] = row.iso3 or None

    # --- code lists -------------------------------------------------------------------------
    def dimensions(self) -> tuple[str, ...]:
        return DIMENSIONS

    def codes(self, dimension: str) -> list[str]:
        self._check_dimension(dimension)
        table = self.code_table[self.code_table["dimension"] == dimension]
        return table.sort_values("sort_order")["code"].tolist()

    def table(self, dimension: str) -> pd.DataFrame:
        self._check_dimension(dimension)
        table = self.code_table[self.code_table["dimension"] == dimension]
        return table.sort_values("sort_order").reset_index(drop=True)

    def label(self, dimension: str, code: str, language: str = "en") -> str:
        table = self.table(dimension)
        match = table.loc[table["code"] == code, f"label_{language}"]
        if match.empty:
            raise KeyError(f"{code!r} is not a {dimension} code")
        return str(match.iloc[0])

    def lookup(self, dimension: str, text: object) -> str | None:
        """The code for a code, a label (EN/FR/ES) or a known variant; None when unknown.

        Citizenship also accepts a country (ISO3, ISO2, M49 code or name): it maps to ISO3.
        """
        self._check_dimension(dimension)
        key = normalize_label(text)
        code = self._label_index[dimension].get(key)
        if code is None and dimension == "citizenship":
            return self.country_iso3(text)
        return code

    def lookup_many(self, dimension: str, values: pd.Series) -> pd.Series:
        """Vectorised ``lookup``: maps each distinct value once (fast on million-row files)."""
        distinct = pd.unique(values.dropna())
        mapping = {value: self.lookup(dimension, value) for value in distinct}
        return values.map(mapping)

    def closest(self, dimension: str, text: object, n: int = 3) -> list[str]:
        """The valid codes whose code or labels are nearest to ``text`` (for error messages)."""
        self._check_dimension(dimension)
        index = self._label_index[dimension]
        matches = difflib.get_close_matches(normalize_label(text), list(index), n=n * 3, cutoff=0.4)
        suggestions: list[str] = []
        for match in matches:
            code = index[match]
            if code not in suggestions:
                suggestions.append(code)
        return suggestions[:n] or self.codes(dimension)[:n]

    # --- countries and regions --------------------------------------------------------------
    def country_iso3(self, text: object) -> str | None:
        """ISO3 for an ISO3/ISO2/M49 code or a country name; None when it cannot be resolved.

        The reviewed map in ``country_name_map.csv`` comes first (it corrects what
        country_converter gets wrong), then our own country table, then country_converter.
        """
        raw = str(text).strip()
        if not raw:
            return None
        if raw in self._country_cache:
            return self._country_cache[raw]
        key = normalize_label(raw)
        if key.isdigit():
            result = self._country_index.get(f"m49:{key.zfill(3)}")
        elif key in self._country_index:
            result = self._country_index[key]
        elif len(key) == 2 and key.isalpha():
            hits = self.countries.loc[self.countries["iso2"].str.casefold() == key, "iso3"]
            result = hits.iloc[0] if not hits.empty else None
        else:
            result = _country_converter_iso3(raw, frozenset(self.countries["iso3"]))
        self._country_cache[raw] = result
        return result

    def country_iso3_many(self, values: pd.Series) -> pd.Series:
        distinct = pd.unique(values.dropna())
        return values.map({value: self.country_iso3(value) for value in distinct})

    def is_country(self, iso3: str) -> bool:
        return iso3 in set(self.countries["iso3"])

    def schemes(self) -> list[str]:
        return self.region_members["scheme"].drop_duplicates().tolist()

    def _check_dimension(self, dimension: str) -> None:
        if dimension not in DIMENSIONS:
            raise KeyError(f"unknown dimension {dimension!r}; known: {', '.join(DIMENSIONS)}")


@cache
def _country_converter():
    import country_converter as coco
    from country_converter.country_converter import COUNTRY_DATA_FILE

    # country_converter's own loader turns Namibia's ISO2 "NA" into a missing value under
    # pandas 3; reading its table as plain strings keeps every code intact.
    data = pd.read_csv(
        COUNTRY_DATA_FILE,
        sep="\t",
        encoding="utf-8",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
    )
    logging.getLogger("country_converter").setLevel(logging.CRITICAL)
    return coco.CountryConverter(country_data=data)


def _country_converter_iso3(text: str, known: frozenset[str]) -> str | None:
    result = _country_converter().convert(text, to="ISO3", not_found=None)
    if isinstance(result, str) and result in known:
        return result
    return None  # not found, or ambiguous (a list): never guess


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def _versions(folder: Path) -> pd.DataFrame:
    rows = []
    for name in REFERENCE_FILES:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        rows.append({"name": name.removesuffix(".csv"), "version": digest[:12], "sha256": digest})
    return pd.DataFrame(rows)


def load_codelists(folder: Path | str | None = None) -> CodeLists:
    """Load the reference data (cached per folder until one of its files changes)."""
    folder = Path(folder) if folder is not None else reference_dir()
    return _load(folder, _stamp(folder))


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    # A long-running process (`tipstats serve`) must see an edited code list on its next run.
    stamps = []
    for name in REFERENCE_FILES:
        with contextlib.suppress(OSError):
            stat = (folder / name).stat()
            stamps.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@lru_cache(maxsize=4)
def _load(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> CodeLists:
    codes = _read(folder, "codes.csv")
    codes["sort_order"] = codes["sort_order"].astype(int)
    population = _read(folder, "population.csv").astype({"year": int, "population": "int64"})
    return CodeLists(
        code_table=codes,
        code_map=_read(folder, "code_map.csv"),
        rollups=_read(folder, "rollups.csv"),
        countries=_read(folder, "countries.csv"),
        region_members=_read(folder, "region_schemes.csv"),
        population=population,
        country_names=_read(folder, "country_name_map.csv"),
        versions=_versions(folder),
    )
