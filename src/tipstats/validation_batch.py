"""Validation of many files in one pass (pure): the reports ``validation.validate`` gives each
file when the files are validated one after the other, at a fraction of its fixed cost per file.

Each file's history is the given warehouse history plus the observations of the earlier files
of the batch that share a country and would be loaded (accepted, no cell twice), as
``checking`` applies them. Validating a small file is hundreds of pandas operations whose fixed
cost dwarfs its 100 rows; here the files are stacked into one frame and checked together:

- every file's rows get a *global* row number, ``file position * ROW_FACTOR + its row``, so
  that rows of different files never meet (report rows, error rows, sorting) and each report
  row goes back to its file and row by a division;
- keyed checks (duplicate cells, identities, sums of sub-forms, plausibility) group by the
  cell key, whose country is replaced by a token of the file: two files of one country (a
  resubmission) never share a cell. The real country is put back in the observations.
- plausibility compares each file with its own history: the history rows the file's years can
  meet, taken per file from the warehouse history and the earlier loaded files, under the
  file's token.

Files the stacked pass cannot stand for exactly are validated alone with ``validate``: files
with reader problems or structure problems, other layouts than the template, several
countries or a country other than the file name's, numbers written with dots as thousands
separators (read file-wide), and files whose report names other rows in its messages (repeated
cells, a part above its total). They are rare; the common clean file goes through the pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tipstats import columns as C
from tipstats import validation
from tipstats.codelists import CodeLists
from tipstats.harmonize import _DOT_THOUSANDS_MANY, CodedFrame, code_frame, harmonize_coded
from tipstats.identities import check_identities, plausibility
from tipstats.report_frame import ERROR, concat_reports, empty_report
from tipstats.validation import ParsedLike, ValidationReport

TEMPLATE = "template"
# rows of one file are numbered below this; a file's global rows start at position * factor
ROW_FACTOR = 2**24
# rules whose messages name other rows of the file (`rows 3, 5`, `(row 4)`): global row numbers
# would show in them, so the files that have them are validated alone
ROWS_IN_MESSAGE = frozenset(
    {
        "key.duplicate",
        "harmonize.duplicates_repeated",
        "harmonize.duplicates_summed",
        "identity.part_exceeds_total",
        "identity.sex_age_inconsistent",
    }
)
_KEY = list(C.OBSERVATION_KEY)
_EMPTY_REPORT = empty_report()
_TEXT_COLUMNS = frozenset(C.TEMPLATE_COLUMNS)

# a file's outcome: its report, or the exception validating it alone raised
Outcome = ValidationReport | Exception


def validate_batch(
    parsed_files: Sequence[ParsedLike],
    codelists: CodeLists,
    history: pd.DataFrame | None = None,
    *,
    countries: Sequence[Sequence[str]] | None = None,
) -> list[Outcome]:
    """One outcome per file, in order: exactly the report ``validate`` gives the file when the
    files are validated one after the other, each against ``history`` (the warehouse's current
    observations of the batch's countries; None: no plausibility) plus the observations of the
    earlier accepted files that share a country. A file whose validation raises gets the
    exception in its place; the others are not affected.

    ``countries``: the ISO3 codes each file names (``checking.countries_of``), if known.
    """
    n = len(parsed_files)
    if countries is None:
        countries = [countries_of(p.frame, codelists) for p in parsed_files]
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, parsed in enumerate(parsed_files):
        shape = _batchable_shape(parsed)
        if shape is not None:
            groups.setdefault(shape, []).append(i)
    passes = []
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            found = _first_pass([(i, parsed_files[i]) for i in members], codelists, countries)
        except _NothingToStack:
            continue
        except Exception:  # noqa: BLE001  the pass must never cost a file its report: alone
            continue
        passes.append(found)
    try:
        stacked = _Stacked.combine(passes)
        observations = stacked.observations_per_file()
    except Exception:  # noqa: BLE001  as above: every file validated alone
        stacked, observations = _Stacked.combine([]), {}
    outcomes: list[Outcome | None] = [None] * n
    # the observations each file loads into the history of the later files of its country
    loads: dict[int, pd.DataFrame] = {
        i: obs
        for i, obs in observations.items()
        if stacked.accepted.get(i) and len(obs) and not stacked.repeated.get(i, False)
    }

    def alone(i: int) -> None:
        try:
            mine = None if history is None else _history_at(i, countries, history, loads)
            outcomes[i] = report = validation.validate(parsed_files[i], codelists, mine)
        except Exception as problem:  # noqa: BLE001  one file's failure is its own outcome
            outcomes[i] = problem
            return
        obs = report.observations
        if report.accepted and obs is not None and len(obs) and not _repeats_a_cell(obs):
            loads[i] = obs

    for i in range(n):
        if i not in stacked.files:
            alone(i)
    if stacked.files:
        try:
            plausible = (
                empty_report() if history is None else _plausibility(stacked, history, loads)
            )
            reports = stacked.reports(plausible, parsed_files, observations)
        except Exception:  # noqa: BLE001  as above: these files validated alone, in order
            reports = {}
            for i in sorted(stacked.files):
                alone(i)
        for i, report in reports.items():
            outcomes[i] = report
    return [outcome for outcome in outcomes if outcome is not None]


# --- which files the pass can take ----------------------------------------------------------------
def _batchable_shape(parsed: ParsedLike) -> tuple[object, ...] | None:
    """The shape files must share to be stacked (layout, columns), or None for a file to
    validate alone."""
    layout = getattr(parsed, "layout", TEMPLATE) or TEMPLATE
    frame = parsed.frame
    reader_problems = getattr(parsed, "problems", None)
    if layout != TEMPLATE or len(frame) == 0 or len(frame) >= ROW_FACTOR:
        return None
    if reader_problems is not None and len(reader_problems):
        return None
    names = list(frame.columns)
    text_columns = [c for c in names if c != C.SOURCE_ROW]
    if len(set(names)) != len(names) or not set(text_columns) <= _TEXT_COLUMNS:
        return None
    if any(c not in text_columns for c in C.TEMPLATE_REQUIRED):
        return None
    return (layout, tuple(names))


def _stacked_rows(frame: pd.DataFrame, lengths: np.ndarray) -> np.ndarray:
    """Each stacked row's number as validation gives it in its own file (``source_row``, or
    2, 3... when there is none); -1 where it is not a number in 0..ROW_FACTOR-1."""
    if C.SOURCE_ROW not in frame.columns:
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.arange(len(frame), dtype=np.int64) - starts + 2
    rows = pd.to_numeric(frame[C.SOURCE_ROW], errors="coerce").astype("Int64")
    values = rows.to_numpy(dtype=np.int64, na_value=-1)
    return np.where((values >= 0) & (values < ROW_FACTOR), values, -1)


def countries_of(frame: pd.DataFrame, codelists: CodeLists) -> list[str]:
    """ISO3 codes of the countries a parsed file names, sorted. Each distinct text is resolved
    once (``country_iso3`` remembers texts): a pandas ``unique`` and ``map`` cost ~1 ms a small
    file, more than its 100 texts in Python."""
    if C.COUNTRY not in frame.columns:
        return []
    found = set()
    for text in set(frame[C.COUNTRY].tolist()):
        if text is None or pd.isna(text):
            continue
        code = codelists.country_iso3(str(text))
        if code is not None and not pd.isna(code):
            found.add(str(code))
    return sorted(found)


# `NLD_2021.csv`: the file name names a country (validation's own rule)
_NAMED_COUNTRY: re.Pattern[str] = validation._NAMED_COUNTRY


def _named_otherwise(path: object, country: str, codelists: CodeLists) -> bool:
    """True when the file name names another country than ``country`` (an error the file's own
    validation reports with its row)."""
    if path is None:
        return False
    match = _NAMED_COUNTRY.match(Path(str(path)).name)
    if match is None or match.group(1) == country:
        return False
    return codelists.is_country(match.group(1))


class _NothingToStack(Exception):
    """No file of a group can be stacked."""


# --- the stacked pass ---------------------------------------------------------------------------
@dataclass
class _Pass:
    """Every check but plausibility, on files stacked into one frame (global rows)."""

    files: list[int]  # positions in the batch of the files it stands for
    country: dict[int, str | None]  # each file's one country
    table: pd.DataFrame
    harmonize_report: pd.DataFrame
    observations: pd.DataFrame  # tokenized country, global rows


def _first_pass(
    members: list[tuple[int, ParsedLike]],
    codelists: CodeLists,
    countries: Sequence[Sequence[str]],
) -> _Pass:
    layout = TEMPLATE
    kept = [i for i, _ in members]
    big = pd.concat([parsed.frame for _, parsed in members], ignore_index=True)
    lengths = np.array([len(parsed.frame) for _, parsed in members], dtype=np.int64)
    file_of_row = np.repeat(np.array(kept, dtype=np.int64), lengths)
    local = _stacked_rows(big, lengths)
    # rows that cannot be numbered, and `1.282` read as thousands when its file writes
    # `1.282.000` somewhere (file-wide): such files are validated alone
    odd_rows = local < 0
    texts, found = pd.factorize(big[C.VALUE], use_na_sentinel=True)
    dotted = np.array(
        [bool(_DOT_THOUSANDS_MANY.fullmatch(str(t).strip())) for t in found], dtype=bool
    )
    odd_rows |= (texts >= 0) & np.append(dotted, False)[texts]
    if odd_rows.any():
        odd = set(np.unique(file_of_row[odd_rows]).tolist())
        stay = ~np.isin(file_of_row, list(odd))
        big = big[stay].reset_index(drop=True)
        local, file_of_row = local[stay], file_of_row[stay]
        kept = [i for i in kept if i not in odd]
    if not kept:
        raise _NothingToStack
    global_rows = local + file_of_row * ROW_FACTOR
    big[C.SOURCE_ROW] = global_rows

    coded = code_frame(big, codelists)
    country = coded.codes[C.COUNTRY]
    known = country.notna().to_numpy()
    # one country per file, the one the file names and its countries say
    codes, names = pd.factorize(country)
    pairs = np.unique(np.stack([file_of_row[known], codes[known]]), axis=1)
    per_file: dict[int, list[str]] = {}
    for f, c in pairs.T.tolist():
        per_file.setdefault(int(f), []).append(str(names[c]))
    single: dict[int, str | None] = {}
    paths = dict(members)
    for i in kept:
        mine = per_file.get(i, [])
        if len(mine) > 1 or sorted(mine) != list(countries[i]):
            continue
        main = mine[0] if mine else None
        if main is not None and _named_otherwise(getattr(paths[i], "path", None), main, codelists):
            continue
        single[i] = main

    # the cell key's country becomes the file: cells of two files never meet
    token_of_file = np.array([str(f) for f in range(int(file_of_row.max()) + 1)], dtype=object)
    tokens = np.where(known, token_of_file[file_of_row], None)
    tokenized = CodedFrame(
        text=coded.text,
        codes=coded.codes.assign(**{C.COUNTRY: pd.array(tokens, dtype="string")}),
        # country codes are no longer a function of the country's text
        factors={k: v for k, v in coded.factors.items() if k != C.COUNTRY},
    )
    source_rows = coded.text[C.SOURCE_ROW]
    schema = validation._template_schema(codelists, layout)
    text_columns = [c for c in big.columns if c != C.SOURCE_ROW]
    text = coded.text.reindex(columns=text_columns)
    hints = validation._closest_hints(coded, codelists)
    schema_problems = validation.run_schema_on_distinct(
        schema, text, source_rows, hints, coded.factors
    )
    observations, harmonize_report = harmonize_coded(tokenized, layout, codelists)
    cell_keys = validation._cell_keys(tokenized)
    checks = [
        schema_problems,
        validation._value_status(coded),
        validation._duplicate_keys(tokenized, layout, cell_keys),
        check_identities(
            validation._without_duplicated_keys(observations, tokenized, layout, cell_keys),
            codelists,
        ),
    ]
    return _Pass(
        files=list(single),
        country=single,
        table=concat_reports(checks),
        harmonize_report=harmonize_report,
        observations=observations,
    )


@dataclass
class _Stacked:
    """The passes of a batch together, cut down to the files they stand for exactly."""

    files: set[int]
    country: dict[int, str | None]
    table: pd.DataFrame
    harmonize_report: pd.DataFrame
    observations: pd.DataFrame
    accepted: dict[int, bool]
    repeated: dict[int, bool]
    restored: pd.DataFrame | None = None
    restored_files: np.ndarray | None = None

    @classmethod
    def combine(cls, passes: list[_Pass]) -> _Stacked:
        files: set[int] = set()
        country: dict[int, str | None] = {}
        tables, reports, observations = [], [], []
        for found in passes:
            rows = [found.table["row"], found.harmonize_report["row"]]
            if any(r.isna().any() for r in rows):  # a problem of no row: whose is it?
                continue
            mine = set(found.files)
            rules = pd.concat([found.table["rule_id"], found.harmonize_report["rule_id"]])
            row_of_rule = pd.concat(rows)
            named = row_of_rule[rules.isin(list(ROWS_IN_MESSAGE)).to_numpy()]
            mine -= set((named.to_numpy(dtype=np.int64) // ROW_FACTOR).tolist())
            files |= mine
            country.update((i, found.country[i]) for i in mine)
            tables.append(_of_files(found.table, "row", mine))
            reports.append(_of_files(found.harmonize_report, "row", mine))
            observations.append(_of_files(found.observations, C.SOURCE_ROW, mine))
        if not files:
            empty = pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
            return cls(set(), {}, empty_report(), empty_report(), empty, {}, {})
        table = concat_reports(tables)
        obs = pd.concat(observations, ignore_index=True)
        error_files = _file_of(table.loc[table["severity"] == ERROR, "row"])
        repeated = obs[_KEY].duplicated(keep=False).to_numpy()
        repeated_files = set(_file_of(obs.loc[repeated, C.SOURCE_ROW]).tolist())
        return cls(
            files=files,
            country=country,
            table=table,
            harmonize_report=concat_reports(reports),
            observations=obs,
            accepted={i: i not in set(error_files.tolist()) for i in files},
            repeated={i: i in repeated_files for i in files},
        )

    def observations_per_file(self) -> dict[int, pd.DataFrame]:
        """Each file's observations as its own validation gives them: real country, its rows.
        Keeps them stacked too (``restored``, file of each row in ``restored_files``)."""
        obs = self.observations
        obs = obs.sort_values(C.SOURCE_ROW, kind="stable").reset_index(drop=True)
        files = _file_of(obs[C.SOURCE_ROW])
        real = np.array([self.country.get(int(f)) for f in files], dtype=object)
        self.restored = obs.assign(
            **{
                C.COUNTRY: pd.array(real, dtype="string"),
                C.SOURCE_ROW: obs[C.SOURCE_ROW] - pd.array(files * ROW_FACTOR, dtype="Int64"),
            }
        )
        self.restored_files = files
        return _split(self.restored, files, self.files, _observations_slice)

    def reports(
        self,
        plausible: pd.DataFrame,
        parsed_files: Sequence[ParsedLike],
        observations: dict[int, pd.DataFrame],
    ) -> dict[int, ValidationReport]:
        table = concat_reports([self.table, plausible])
        table = concat_reports(
            [table, validation._new_information(self.harmonize_report, table, TEMPLATE)]
        )
        table = validation._finish(table, TEMPLATE)
        files = _file_of(table["row"])
        table = table.assign(row=table["row"] - pd.array(files * ROW_FACTOR, dtype="Int64"))
        tables = _split(table, files, self.files, _report_slice)
        return {
            i: ValidationReport(
                table=tables[i],
                layout=TEMPLATE,
                n_rows=len(parsed_files[i].frame),
                observations=observations[i],
            )
            for i in sorted(self.files)
        }


def _file_of(rows: pd.Series) -> np.ndarray:
    return rows.to_numpy(dtype=np.int64) // ROW_FACTOR


def _of_files(frame: pd.DataFrame, column: str, files: set[int]) -> pd.DataFrame:
    if frame.empty:
        return frame
    keep = np.isin(_file_of(frame[column]), list(files))
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def _observations_slice(obs: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    return obs.iloc[start:stop].reset_index(drop=True)


def _report_slice(table: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    if start == stop:  # the usual clean file: its own frame object, sharing the empty columns
        return _EMPTY_REPORT.copy(deep=False)
    return table.iloc[start:stop].reset_index(drop=True)


def _split(frame, files: np.ndarray, wanted: set[int], cut) -> dict[int, pd.DataFrame]:
    """``frame`` (sorted by file) cut into one frame per wanted file (empty when it has none)."""
    order = sorted(wanted)
    starts = np.searchsorted(files, order, side="left")
    stops = np.searchsorted(files, order, side="right")
    return {i: cut(frame, int(a), int(b)) for i, a, b in zip(order, starts, stops, strict=True)}


# --- histories ------------------------------------------------------------------------------------
def _repeats_a_cell(observations: pd.DataFrame) -> bool:
    """What ``warehouse.repeated_cell`` refuses to load: one cell twice."""
    return bool(observations[_KEY].duplicated(keep=False).any())


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """History columns with the dtypes validation expects (``warehouse.canonical_types``)."""
    types = {c: ("Int64" if c in (C.YEAR, C.VALUE, C.SOURCE_ROW) else "string") for c in frame}
    return frame.astype(types)


def _history_at(
    i: int,
    countries: Sequence[Sequence[str]],
    history: pd.DataFrame,
    loads: dict[int, pd.DataFrame],
) -> pd.DataFrame:
    """The history file ``i`` sees one after the other: the warehouse's rows of its countries,
    each earlier loaded file's cells replacing the same cells (``checking.after_load``)."""
    mine = list(countries[i])
    if not mine:
        return pd.DataFrame(columns=list(C.OBSERVATION_COLUMNS))
    base = _typed(history[history[C.COUNTRY].isin(mine)].reset_index(drop=True))
    earlier = [
        loads[k].reindex(columns=list(C.OBSERVATION_COLUMNS))
        for k in sorted(loads)
        if k < i and set(countries[k]) & set(mine)
    ]
    if not earlier:
        return base
    merged = pd.concat([base, *(_typed(e) for e in earlier)], ignore_index=True)
    merged = merged[merged[C.COUNTRY].isin(mine)]
    return _typed(merged.drop_duplicates(subset=_KEY, keep="last").reset_index(drop=True))


def _plausibility(
    stacked: _Stacked, history: pd.DataFrame, loads: dict[int, pd.DataFrame]
) -> pd.DataFrame:
    """``identities.plausibility`` of every stacked file against its own history, in one call:
    each file's history rows (of the years its cells can be compared with) under its token."""
    new = stacked.observations
    if new.empty:
        return empty_report()
    files = _file_of(new[C.SOURCE_ROW])
    country = np.array([stacked.country.get(int(f)) for f in files], dtype=object)
    years = new[C.YEAR].to_numpy(dtype=np.int64)
    # a cell meets the history of its year (a break already known) and of the year before
    needs = pd.DataFrame(
        {
            "_file": np.concatenate([files, files]),
            C.COUNTRY: pd.array(np.concatenate([country, country]), dtype="string"),
            C.YEAR: pd.array(np.concatenate([years, years - 1]), dtype="Int64"),
        }
    ).drop_duplicates()
    columns = [*_KEY, C.VALUE, C.STATUS]
    versions = [_typed(history.reindex(columns=columns)).assign(_order=-1)]
    assert stacked.restored is not None and stacked.restored_files is not None
    loaded = np.isin(stacked.restored_files, [k for k in loads if k in stacked.files])
    versions.append(
        stacked.restored.loc[loaded, columns].assign(_order=stacked.restored_files[loaded])
    )
    for k in sorted(set(loads) - stacked.files):  # the files validated alone
        versions.append(_typed(loads[k].reindex(columns=columns)).assign(_order=k))
    known = pd.concat(versions, ignore_index=True)
    old = needs.merge(known, on=[C.COUNTRY, C.YEAR], how="inner")
    old = old[old["_order"] < old["_file"]]
    old = old.sort_values("_order", kind="stable").drop_duplicates(["_file", *_KEY], keep="last")
    old = old.assign(**{C.COUNTRY: pd.array(old["_file"].astype(str), dtype="string")})
    return plausibility(new, old.drop(columns=["_file", "_order"]).reset_index(drop=True))
