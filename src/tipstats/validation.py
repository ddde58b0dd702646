"""Validation: run the schemas lazily and turn every failure into a ValidationReport (pure).

A report is a frame ``rule_id, severity, row, column, value, message`` (``row`` = the row the
user sees in the file). Errors reject the file; warnings accept it with flags. Rule ids are
stable; their meaning and what to do about each is in ``docs/validation.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tipstats import columns as C
from tipstats.codelists import CodeLists
from tipstats.harmonize import (
    COUNT,
    FIRST_YEAR,
    MISSING,
    CodedFrame,
    Factor,
    code_frame,
    harmonize_coded,
)
from tipstats.identities import check_identities, plausibility
from tipstats.report_frame import (
    ERROR,
    REPORT_COLUMNS,
    WARNING,
    concat_reports,
    empty_report,
    normalize_report,
    one_problem,
    problems,
)

DATAUNODC = "dataunodc"

# Messages for the rules checked by the pandera schemas (the check name is the rule id).
# Placeholders: {value} (the cell as written), {column}.
SCHEMA_RULES: dict[str, tuple[str, str]] = {
    "structure.missing_column": (ERROR, "the required column `{value}` is missing"),
    "structure.unknown_column": (WARNING, "column `{value}` is not part of the template; ignored"),
    "cell.missing": (ERROR, "column {column} is empty; it must name a code or a label"),
    "year.invalid": (ERROR, "`{value}` in column year is not a year (write it as 2021)"),
    "year.out_of_range": (ERROR, "year `{value}` is outside {first}..{last}"),
    "value.negative": (ERROR, "`{value}` in column value is negative; a count cannot be below 0"),
    "value.not_integer": (ERROR, "`{value}` in column value is not a whole number of persons"),
    "value.not_a_number": (
        ERROR,
        "`{value}` in column value is not a number (leave it empty with status M when the "
        "figure is not available; write `<5` for a small count kept confidential)",
    ),
    "value.thousands_ambiguous": (
        ERROR,
        "`{value}` in column value could be a decimal or a number with a thousands separator; "
        "write it without separators (e.g. 1282)",
    ),
    "value.too_large": (
        ERROR,
        "`{value}` in column value is larger than any plausible number of persons",
    ),
    "code.unknown": (
        ERROR,
        "`{value}` in column {column} is not a known code or label; closest valid codes: {hint}",
    ),
    "country.unknown": (ERROR, "`{value}` in column country is not a known country"),
}
# pandera's built-in checks that judge one cell at a time
_CELL_CHECKS = frozenset(
    {
        "isin",
        "notin",
        "str_matches",
        "str_contains",
        "str_startswith",
        "str_endswith",
        "str_length",
        "in_range",
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
    }
)
_PANDERA_STRUCTURE = {
    "column_in_dataframe": "structure.missing_column",
    "column_in_schema": "structure.unknown_column",
}

# The dataUNODC export is published data: its inconsistencies are flagged, not a reason to
# refuse 19 years of history.
SEVERITY_OVERRIDES = {
    DATAUNODC: {
        "identity.part_exceeds_total": WARNING,
        "identity.parts_exceed_total": WARNING,
        "identity.sex_age_inconsistent": WARNING,
        # regional aggregates (`CAR`, `SAM`...) and territories outside ISO 3166 are reported
        # and not loaded; the countries' own rows are
        "country.unknown": WARNING,
        # a blank category: recorded as UNKNOWN by harmonization
        "cell.missing": WARNING,
    }
}


class ParsedLike(Protocol):
    frame: pd.DataFrame
    layout: str
    problems: pd.DataFrame


@dataclass
class ValidationReport:
    """The outcome of validating one file: every problem found, in one table."""

    table: pd.DataFrame
    layout: str = "template"
    n_rows: int = 0
    observations: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        if self.table.empty:  # the usual clean file: comparing an empty text column costs ~1 ms
            return True
        return not (self.table["severity"] == ERROR).any()

    @property
    def errors(self) -> pd.DataFrame:
        return self.table[self.table["severity"] == ERROR].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.table[self.table["severity"] == WARNING].reset_index(drop=True)

    @property
    def n_errors(self) -> int:
        if self.table.empty:
            return 0
        return int((self.table["severity"] == ERROR).sum())

    @property
    def n_warnings(self) -> int:
        if self.table.empty:
            return 0
        return int((self.table["severity"] == WARNING).sum())

    def counts_by_rule(self) -> pd.DataFrame:
        """One row per rule: rule_id, severity, count (errors first, then most frequent)."""
        if self.table.empty:
            return pd.DataFrame({"rule_id": [], "severity": [], "count": []})
        counts = self.table.groupby(["rule_id", "severity"]).size().reset_index(name="count")
        counts["_order"] = (counts["severity"] != ERROR).astype(int)
        counts = counts.sort_values(["_order", "count", "rule_id"], ascending=[True, False, True])
        return counts.drop(columns="_order").reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        records = json.loads(self.table.to_json(orient="records", force_ascii=False))
        return {
            "accepted": self.accepted,
            "layout": self.layout,
            "n_rows": self.n_rows,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "counts_by_rule": json.loads(self.counts_by_rule().to_json(orient="records")),
            "problems": records,
        }


# --- schema failures -> report rows -------------------------------------------------------------
def run_schema(
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    source_rows: pd.Series,
    hints: dict[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Validate lazily (every failure collected) and return the failures as a report frame.

    ``source_rows`` maps the frame's index to the row numbers the user sees.
    """
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as failure:
        return failures_to_report(failure.failure_cases, source_rows, hints or {})
    return empty_report()


def run_schema_on_distinct(
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    source_rows: pd.Series,
    hints: dict[tuple[str, str], str] | None = None,
    factors: dict[str, Factor] | None = None,
) -> pd.DataFrame:
    """``run_schema`` for schemas whose checks judge each cell on its own: the schema sees each
    distinct text of a column once, and its failures are mapped back to every row holding that
    text. A 1,000,000-row file repeats a few thousand texts, so pandera checks thousands of
    cells instead of millions; the report is the same row for row.

    ``factors`` gives, for some columns, each cell's position in an array of its texts
    (``harmonize.clean_text_factors``), so that they need not be grouped again. Falls back to
    the whole frame when the schema has checks across rows or columns.
    """
    if not _cell_wise(schema) or frame.empty:
        return run_schema(schema, frame, source_rows, hints)
    columns = list(frame.columns)
    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, np.ndarray] = {}
    for column in columns:
        if factors and column in factors:
            codes[column], found = factors[column]
        else:
            codes[column], found = pd.factorize(frame[column], use_na_sentinel=False)
        uniques[column] = np.asarray(found, dtype=object)
    width = max(len(found) for found in uniques.values())
    # each column padded with its first text: repeated texts fail (or pass) like the first
    # already in the dtypes the schema coerces to: pandera's coercion is then a no-op, which
    # for a small file is most of the schema's cost
    distinct = pd.DataFrame(
        {
            column: pd.array(
                np.concatenate([found, np.repeat(found[:1], width - len(found))]),
                dtype=_target_dtype(schema, column),
            )
            for column, found in uniques.items()
        }
    )
    cases = _checked_directly(schema, distinct)
    if cases is None:
        try:
            schema.validate(distinct, lazy=True)
        except pa.errors.SchemaErrors as failure:
            cases = failure.failure_cases
        else:
            return empty_report()
    if cases.empty:
        return empty_report()
    per_cell = cases["column"].isin(columns) & cases["index"].notna()
    if not (per_cell | cases["check"].astype(str).isin(list(_PANDERA_STRUCTURE))).all():
        return run_schema(schema, frame, source_rows, hints)
    expanded = [cases[~per_cell]]
    cell_cases = cases[per_cell]
    groups = cell_cases.groupby(["column", "check"], sort=False)
    for (column, check), group in groups:
        found = uniques[column]
        positions = group["index"].astype(int).to_numpy()
        failing = np.unique(np.where(positions < len(found), positions, 0))
        rows = np.flatnonzero(np.isin(codes[column], failing))
        expanded.append(
            pd.DataFrame(
                {
                    "schema_context": group["schema_context"].iloc[0],
                    "column": column,
                    "check": check,
                    "check_number": group["check_number"].iloc[0],
                    "failure_case": found[codes[column][rows]],
                    "index": frame.index[rows],
                }
            )
        )
    return failures_to_report(pd.concat(expanded, ignore_index=True), source_rows, hints or {})


def _checked_directly(schema: pa.DataFrameSchema, distinct: pd.DataFrame) -> pd.DataFrame | None:
    """The failure cases of ``schema`` on ``distinct``, found by running each column's checks
    directly, or None when pandera itself must validate the frame.

    For a frame already in the schema's dtypes, holding exactly the schema's columns, with every
    column nullable and no parsers, pandera's own work beyond the checks (dtype checks,
    coercion, the structure of its error collection) finds nothing more; it is however most of
    the cost of validating a small file. The cases come out in pandera's order: column by
    column in the schema's order, check by check.
    """
    present = set(distinct.columns)
    if schema.parsers or schema.checks or not present <= set(schema.columns):
        return None
    found = []
    for name, column in schema.columns.items():
        if column.regex or column.parsers or not column.nullable or column.unique:
            return None
        if name not in present:
            if column.required:
                return None
            continue
        values = distinct[name]
        if values.dtype != _target_dtype(schema, name):
            return None
        for number, check in enumerate(column.checks):
            if check.groupby is not None or check.name is None:
                return None
            failing = _failing_cells(check, values)
            if failing is None:
                continue
            found.append(
                pd.DataFrame(
                    {
                        "schema_context": "Column",
                        "column": name,
                        "check": check.name,
                        "check_number": number,
                        "failure_case": failing.to_numpy(dtype=object),
                        "index": failing.index.to_numpy(),
                    }
                )
            )
    if not found:
        return pd.DataFrame(
            columns=["schema_context", "column", "check", "check_number", "failure_case", "index"]
        )
    return pd.concat(found, ignore_index=True)


def _failing_cells(check: pa.Check, values: pd.Series) -> pd.Series | None:
    """The cells of ``values`` that ``check`` rejects (their index kept), None when it passes.

    A vectorised check of a column without nulls is what pandera's pandas backend runs itself:
    the check function on the whole column, the failure cases the cells where it says False.
    It is called here directly, because pandera's first check call registers its backends,
    which imports hypothesis (its data synthesis, unused here): a fifth of a second of every
    ``tipstats validate``. Anything else (element-wise checks, a capped number of failure
    cases, nulls to drop, an output that is not one boolean per cell) goes through pandera.
    """
    function = getattr(check, "_check_fn", None)
    if function is None or check.element_wise or check.n_failure_cases is not None:
        return _failing_by_pandera(check, values)
    if values.hasnans:
        return _failing_by_pandera(check, values)
    output = function(values, **getattr(check, "_check_kwargs", {}))
    if isinstance(output, pd.Series) and isinstance(output.dtype, pd.BooleanDtype):
        if output.hasnans:  # pandera decides what a null verdict means
            return _failing_by_pandera(check, values)
        output = output.astype(bool)
    if (
        not isinstance(output, pd.Series)
        or output.dtype != bool
        or not output.index.equals(values.index)
    ):
        return _failing_by_pandera(check, values)
    if output.all():
        return None
    return values[~output]


def _failing_by_pandera(check: pa.Check, values: pd.Series) -> pd.Series | None:
    result = check(values)
    if bool(result.check_passed):
        return None
    return result.failure_cases


def _target_dtype(schema: pa.DataFrameSchema, column: str) -> object:
    """The pandas dtype ``schema`` coerces ``column`` to, or object when it does not coerce it."""
    spec = schema.columns.get(column)
    if spec is None or spec.dtype is None or not (spec.coerce or schema.coerce):
        return object
    return spec.dtype.type


def _cell_wise(schema: pa.DataFrameSchema) -> bool:
    """True when every check of ``schema`` judges one cell at a time (no frame checks, no
    uniqueness): only then can distinct texts stand for the rows that hold them."""
    if schema.checks or schema.unique:
        return False
    for column in schema.columns.values():
        if column.unique:
            return False
        for check in column.checks:
            if not (check.element_wise or check.name in SCHEMA_RULES or check.name in _CELL_CHECKS):
                return False
    return True


def failures_to_report(
    failure_cases: pd.DataFrame, source_rows: pd.Series, hints: dict[tuple[str, str], str]
) -> pd.DataFrame:
    cases = failure_cases.copy()
    check = cases["check"].astype(str)
    cases["rule_id"] = check.map(lambda name: _PANDERA_STRUCTURE.get(name, name))
    known = cases["rule_id"].isin(list(SCHEMA_RULES))
    cases.loc[~known, "rule_id"] = "schema.check_failed"
    index = pd.to_numeric(cases["index"], errors="coerce")
    rows = index.map(lambda i: source_rows.get(i) if pd.notna(i) else None)
    cases["row"] = pd.array(rows, dtype="Int64")
    cases["value"] = cases["failure_case"].astype(str)
    cases["severity"] = cases["rule_id"].map(lambda rule: SCHEMA_RULES.get(rule, (ERROR, ""))[0])
    messages = {}
    first, last = _year_range()
    for rule, column, value, raw_check in (
        cases[["rule_id", "column", "value", "check"]].drop_duplicates().itertuples(index=False)
    ):
        template = SCHEMA_RULES.get(rule, (ERROR, "check `{check}` failed for `{value}`"))[1]
        messages[(rule, column, value)] = template.format(
            value=value,
            column=column,
            hint=hints.get((column, value), ""),
            first=first,
            last=last,
            check=raw_check,
        )
    keys = zip(cases["rule_id"], cases["column"], cases["value"], strict=True)
    cases["message"] = [messages[key] for key in keys]
    structural = cases["rule_id"].str.startswith("structure.")
    cases.loc[structural, "column"] = cases.loc[structural, "value"]
    return normalize_report(cases[list(REPORT_COLUMNS)])


def _year_range() -> tuple[int, int]:
    return FIRST_YEAR, dt.date.today().year


# --- the whole file -----------------------------------------------------------------------------
def validate(
    parsed: ParsedLike,
    codelists: CodeLists,
    history: pd.DataFrame | None = None,
    *,
    schema: pa.DataFrameSchema | None = None,
) -> ValidationReport:
    """Every problem of one parsed file, in one pass: reading, schema, codes, identities,
    plausibility against ``history`` (the warehouse's current observations for the country).

    ``schema`` defaults to ``schemas.template.template_schema(codelists, layout)``. The
    harmonized observations are kept on the report (``.observations``) for the loader.
    """
    layout = getattr(parsed, "layout", "template") or "template"
    frame = parsed.frame
    reader_problems = normalize_report(getattr(parsed, "problems", None))
    n_rows = len(frame)
    structure = _structure(frame, reader_problems)
    if len(structure) or n_rows == 0:
        table = _finish(concat_reports([reader_problems, structure]), layout)
        return ValidationReport(table=table, layout=layout, n_rows=n_rows)

    frame = frame.reset_index(drop=True)
    coded = code_frame(frame, codelists)
    source_rows = coded.text[C.SOURCE_ROW]
    if schema is None:
        schema = _template_schema(codelists, layout)
    text_columns = [c for c in frame.columns if c != C.SOURCE_ROW]
    text = coded.text.reindex(columns=text_columns)
    for column in text_columns:
        if column not in coded.text.columns:
            text[column] = frame[column]
    hints = _closest_hints(coded, codelists)
    schema_problems = run_schema_on_distinct(schema, text, source_rows, hints, coded.factors)

    observations, harmonize_report = harmonize_coded(coded, layout, codelists)
    cell_keys = _cell_keys(coded) if layout != DATAUNODC else None
    checks = [
        reader_problems,
        schema_problems,
        _value_status(coded),
        _one_country(coded, layout),
        _country_as_named(coded, layout, getattr(parsed, "path", None), codelists),
        _duplicate_keys(coded, layout, cell_keys),
        check_identities(
            _keys_as_categories(
                _without_duplicated_keys(observations, coded, layout, cell_keys), coded
            ),
            codelists,
        ),
        plausibility(observations, history),
    ]
    table = _apply_overrides(concat_reports(checks), layout)
    table = concat_reports([table, _new_information(harmonize_report, table, layout)])
    table = _finish(table, layout)
    return ValidationReport(table=table, layout=layout, n_rows=n_rows, observations=observations)


# the schema of the last code lists seen, per layout: building it is a fixed cost of every file
_SCHEMAS: dict[str, tuple[CodeLists, pa.DataFrameSchema]] = {}


def _template_schema(codelists: CodeLists, layout: str) -> pa.DataFrameSchema:
    from schemas.template import template_schema  # schemas depend on tipstats, not back

    cached = _SCHEMAS.get(layout)
    if cached is not None and cached[0] is codelists:
        return cached[1]
    schema = template_schema(codelists, layout)
    _SCHEMAS[layout] = (codelists, schema)
    return schema


def _structure(frame: pd.DataFrame, reader_problems: pd.DataFrame) -> pd.DataFrame:
    """Required columns and data rows; an empty frame whose reader already said why (an empty
    file, a header without rows, binary data...) is not reported a second time."""
    missing = [c for c in C.TEMPLATE_REQUIRED if c not in frame.columns]
    reports = [
        one_problem(
            "structure.missing_column",
            ERROR,
            SCHEMA_RULES["structure.missing_column"][1].format(value=column),
            column=column,
        )
        for column in missing
    ]
    if len(frame) == 0 and not (reader_problems["severity"] == ERROR).any():
        reports.append(
            one_problem("structure.no_data", ERROR, "the file has no data rows below the header")
        )
    return concat_reports(reports)


def _value_status(coded: CodedFrame) -> pd.DataFrame:
    """An empty value needs a status saying why; statuses M and C need an empty value."""
    text, codes = coded.text, coded.codes
    empty = codes["value_kind"] == MISSING
    status = codes[C.STATUS]
    unexplained = empty & (text[C.STATUS] == "")
    contradicted = (codes["value_kind"] == COUNT) & status.isin(["M", "C"]).fillna(False)
    reports = []
    if unexplained.any():
        reports.append(
            problems(
                "value.missing",
                WARNING,
                text.loc[unexplained, C.SOURCE_ROW],
                C.VALUE,
                text.loc[unexplained, C.VALUE],
                "value is empty; recorded as not available (status M). Give the figure, or "
                "write M in column status to confirm",
            )
        )
    if contradicted.any():
        chosen = text[contradicted]
        reports.append(
            problems(
                "status.value_inconsistent",
                ERROR,
                chosen[C.SOURCE_ROW],
                C.STATUS,
                chosen[C.STATUS],
                "status `"
                + chosen[C.STATUS]
                + "` says the figure is not available or confidential, but value `"
                + chosen[C.VALUE]
                + "` is given; leave the value empty or change the status",
            )
        )
    return concat_reports(reports)


def _closest_hints(coded: CodedFrame, codelists: CodeLists) -> dict[tuple[str, str], str]:
    hints = {}
    for dimension in C.CODED_DIMENSIONS:
        unknown = coded.codes[dimension].isna()
        if not unknown.any():  # the usual case: skip the comparisons and selection below
            continue
        unknown &= coded.text[dimension] != ""
        for value in pd.unique(coded.text.loc[unknown, dimension]):
            hints[(dimension, value)] = ", ".join(codelists.closest(dimension, value))
    return hints


def _one_country(coded: CodedFrame, layout: str) -> pd.DataFrame:
    """A template file reports for one country; the rows of any other country are errors."""
    if layout == DATAUNODC:
        return empty_report()
    by_text = _countries_by_first_row(coded)
    if by_text is not None:
        countries, rows = by_text
        if len(countries) <= 1:
            return empty_report()
        main = countries[0]
        others = pd.DataFrame({"country": countries[1:], "row": rows[1:]})
    else:
        known = coded.codes[C.COUNTRY].dropna()
        if known.nunique() <= 1:
            return empty_report()
        main = known.iloc[0]
        first_rows = (
            pd.DataFrame({"country": known, "row": coded.text.loc[known.index, C.SOURCE_ROW]})
            .groupby("country", sort=False)
            .first()
            .reset_index()
        )
        others = first_rows[first_rows["country"] != main]
    messages = (
        "this row is for "
        + others["country"].astype(str)
        + f" but the file starts with {main}; send one file per reporting country"
    )
    return problems(
        "country.multiple", ERROR, others["row"], C.COUNTRY, others["country"], messages
    )


def _countries_by_first_row(coded: CodedFrame) -> tuple[list[str], list[int]] | None:
    """The file's countries (codes) in the order they first appear, and the row each first
    appears on, read off the country column's factor (a few hundred texts instead of a million
    cells); None when there is no factor or a row number is missing."""
    factor = coded.factors.get(C.COUNTRY)
    codes = coded.codes[C.COUNTRY]
    source_rows = coded.text[C.SOURCE_ROW]
    if factor is None or len(factor[0]) != len(codes) or source_rows.hasnans:
        return None
    positions, texts = factor
    first_row = np.full(len(texts), -1, dtype=np.int64)
    first_row[positions[::-1]] = np.arange(len(positions) - 1, -1, -1)
    present = np.flatnonzero(first_row >= 0)
    picked = codes.iloc[first_row[present]].to_numpy(dtype=object, na_value=None)
    first_of: dict[str, int] = {}
    for code, row in zip(picked.tolist(), first_row[present].tolist(), strict=True):
        if code is not None and (code not in first_of or row < first_of[code]):
            first_of[code] = row
    ordered = sorted(first_of.items(), key=lambda item: item[1])
    at = np.array([row for _, row in ordered], dtype=np.int64)
    return [code for code, _ in ordered], source_rows.to_numpy(dtype=np.int64)[at].tolist()


# `NLD_2021.csv`, `NLD-2021 victims.csv`: a file named after a country and a year
_NAMED_COUNTRY = re.compile(r"([A-Z]{3})[_\- ](?:19|20)\d\d(?!\d)")


def _country_as_named(
    coded: CodedFrame, layout: str, path: object, codelists: CodeLists
) -> pd.DataFrame:
    """A template file named after a country (``NLD_2021.csv``) must report that country (the
    wrong file sent, or a copy not renamed). The file's country is its first row's; rows of yet
    other countries are ``country.multiple``."""
    if layout == DATAUNODC or path is None:
        return empty_report()
    name = Path(str(path)).name
    match = _NAMED_COUNTRY.match(name)
    if match is None or not codelists.is_country(match.group(1)):
        return empty_report()
    named = match.group(1)
    known = coded.codes[C.COUNTRY].dropna()
    if known.empty or known.iloc[0] == named:
        return empty_report()
    reported = known.iloc[0]
    return one_problem(
        "country.not_as_named",
        ERROR,
        f"the file name `{name}` says {named}, but the file reports {reported}; check that "
        "this is the right file, or name it after the country it reports",
        row=int(coded.text.loc[known.index[0], C.SOURCE_ROW]),
        column=C.COUNTRY,
        value=reported,
    )


def _duplicate_keys(
    coded: CodedFrame, layout: str, cell_keys: tuple[np.ndarray, np.ndarray] | None = None
) -> pd.DataFrame:
    """The same cell twice in a template file is an error (which figure is right?).

    In the dataUNODC export repeated cells are sub-forms of one cell: harmonization sums them
    and warns (``harmonize.duplicates_summed``).
    """
    if layout == DATAUNODC:
        return empty_report()
    cells, complete = cell_keys if cell_keys is not None else _cell_keys(coded)
    later, _ = _repeated_cells(cells, complete)
    if not later.any():
        return empty_report()
    keys = pd.Series(cells[complete], index=coded.codes.index[complete])
    repeated = pd.Series(later, index=keys.index)
    rows = coded.text.loc[keys.index, C.SOURCE_ROW]
    first = rows.groupby(keys.to_numpy(), sort=False).transform("first")
    repeat_rows = rows[repeated]
    messages = (
        "this row repeats the cell of row "
        + first[repeated].astype(str)
        + " (same country, year, indicator, sex, age, exploitation, citizenship and source); "
        "keep one figure per cell"
    )
    values = coded.text.loc[repeat_rows.index, C.VALUE]
    return problems("key.duplicate", ERROR, repeat_rows, None, values, messages)


def _without_duplicated_keys(
    observations: pd.DataFrame,
    coded: CodedFrame,
    layout: str,
    cell_keys: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """In a template file a repeated cell is an error of its own; its sum proves nothing more."""
    if layout == DATAUNODC:
        return observations
    cells, complete = cell_keys if cell_keys is not None else _cell_keys(coded)
    _, repeated = _repeated_cells(cells, complete)
    if not repeated.any():
        return observations
    rows = coded.text.loc[repeated, C.SOURCE_ROW]
    return observations[~observations[C.SOURCE_ROW].isin(rows)]


# the last answer of _repeated_cells: both duplicate rules ask it of the same keys in turn
_LAST_REPEATED: list[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]] = []


def _repeated_cells(cells: np.ndarray, complete: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Among the rows with a complete key: which repeat an earlier row's key (one flag per
    complete row, ``duplicated(keep="first")``), and which share their key with another row (one
    flag per row, False for incomplete keys: ``duplicated(keep=False) & complete``, as an
    incomplete key never equals a complete one). The keys are hashed once for both when no key
    repeats (the usual file)."""
    if _LAST_REPEATED and _LAST_REPEATED[0][0] is cells and _LAST_REPEATED[0][1] is complete:
        return _LAST_REPEATED[0][2]
    chosen = cells[complete]
    later = np.zeros(len(chosen), dtype=bool)
    shared = np.zeros(len(cells), dtype=bool)
    if not pd.Index(chosen).is_unique:  # the usual file: one hash pass, the cheapest
        keys = pd.Series(chosen)
        later = keys.duplicated(keep="first").to_numpy()
        shared[complete] = keys.duplicated(keep=False).to_numpy()
    _LAST_REPEATED[:] = [(cells, complete, (later, shared))]
    return later, shared


def _cell_keys(coded: CodedFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row, equal exactly when two rows have the same codes in every key column
    (a blank source counts as one source), and whether the row's key is complete (every other
    key column coded). Built from each column's distinct texts, not by grouping the cells."""
    key = np.zeros(len(coded.codes), dtype=np.int64)
    complete = np.ones(len(coded.codes), dtype=bool)
    size = 1
    for column in C.OBSERVATION_KEY:
        ids, n = _code_ids(coded, column)
        if column != C.SOURCE:
            complete &= ids >= 0
        if size * (n + 1) >= 2**62:  # renumber before the product could overflow
            key, found = pd.factorize(key)
            size = max(len(found), 1)
        key = key * (n + 1) + (ids + 1)
        size *= n + 1
    return key, complete


def _code_ids(coded: CodedFrame, column: str) -> tuple[np.ndarray, int]:
    """Each row's code in ``column`` as an integer (-1 when not coded) and the number of codes."""
    values = coded.codes[column]
    factor = coded.factors.get(column)
    if factor is None:
        ids, found = pd.factorize(values, use_na_sentinel=True)
        return ids.astype(np.int64), len(found)
    positions, texts = factor
    # the code of each text: read off the first row that holds it
    first_row = np.full(len(texts), -1, dtype=np.int64)
    first_row[positions[::-1]] = np.arange(len(positions) - 1, -1, -1)
    present = first_row >= 0
    code_of_text = np.full(len(texts), None, dtype=object)
    picked = values.iloc[first_row[present]]
    code_of_text[present] = picked.to_numpy(dtype=object, na_value=None)
    text_ids, found = pd.factorize(code_of_text, use_na_sentinel=True)
    return text_ids.astype(np.int64)[positions], len(found)


_MANY_ROWS = 20_000


def _keys_as_categories(observations: pd.DataFrame, coded: CodedFrame) -> pd.DataFrame:
    """``identities.categorical_keys(observations)``, which the identity rules start with, read
    off the factors of the text when every observation is the file's row of the same rank (the
    usual file: every row loaded, none merged); otherwise the observations unchanged.

    Each key column holds a function of its text (the code, filled and rolled up), so the
    categorical is built from each text's value instead of hashing a million cells again: the
    same categories (pandas orders them), the same codes.
    """
    text = coded.text
    if len(observations) != len(text) or len(text) < _MANY_ROWS:
        return observations  # small files: hashing costs less than the fixed cost of this
    if not (isinstance(text.index, pd.RangeIndex) and text.index.equals(pd.RangeIndex(len(text)))):
        return observations
    rows = observations[C.SOURCE_ROW]
    if rows.hasnans or text[C.SOURCE_ROW].hasnans:
        return observations
    if not np.array_equal(rows.to_numpy(dtype=np.int64), text[C.SOURCE_ROW].to_numpy(np.int64)):
        return observations
    categorical = {}
    # the columns identities.categorical_keys makes categorical (it leaves any other as it is)
    for column in [c for c in C.OBSERVATION_KEY if c in observations.columns and c != C.YEAR]:
        factor = coded.factors.get(column)
        values = observations[column]
        if factor is None or len(factor[0]) != len(values):
            continue
        positions, texts = factor
        first_row = np.full(len(texts), -1, dtype=np.int64)
        first_row[positions[::-1]] = np.arange(len(positions) - 1, -1, -1)
        present = first_row >= 0
        per_text = values.array.take(np.where(present, first_row, 0))
        small = pd.Categorical(per_text)  # categories as pandas makes them for these values
        categorical[column] = pd.Categorical.from_codes(
            small.codes[positions], dtype=small.dtype, validate=False
        )
    if not categorical:
        return observations
    return observations.assign(**categorical)


def _new_information(
    harmonize_report: pd.DataFrame, table: pd.DataFrame, layout: str
) -> pd.DataFrame:
    """Harmonization warnings not already said by a validation problem on the same row."""
    if harmonize_report.empty:
        return harmonize_report
    error_rows = set(table.loc[table["severity"] == ERROR, "row"].dropna().astype(int))
    cells = set(zip(table["row"].astype("Int64"), table["column"], strict=True))
    report = harmonize_report
    keep = ~report["row"].isin(error_rows).fillna(False)
    keep &= ~pd.Series(
        [(r, c) in cells for r, c in zip(report["row"], report["column"], strict=True)],
        index=report.index,
    )
    if layout != DATAUNODC:
        keep &= report["rule_id"] != "harmonize.duplicates_summed"
    return report[keep]


def _apply_overrides(table: pd.DataFrame, layout: str) -> pd.DataFrame:
    overrides = SEVERITY_OVERRIDES.get(layout, {})
    if not overrides or table.empty:
        return table
    table = table.copy()
    table["severity"] = table["rule_id"].map(overrides).fillna(table["severity"])
    return table


def _finish(table: pd.DataFrame, layout: str) -> pd.DataFrame:
    table = _apply_overrides(table, layout)
    table = table.drop_duplicates(subset=["rule_id", "row", "column", "value"])
    table = table.assign(_file_level=table["row"].notna())
    table = table.sort_values(["_file_level", "row"], kind="stable", na_position="first")
    return normalize_report(table.drop(columns="_file_level"))
