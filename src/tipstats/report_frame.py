"""The problem report frame shared by reading, validation and harmonization (architecture.md).

Columns ``rule_id, severity, row, column, value, message``; ``row`` is the source row number the
user sees in the file (null for file-level problems).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

REPORT_COLUMNS = ("rule_id", "severity", "row", "column", "value", "message")
ERROR = "error"
WARNING = "warning"


def empty_report() -> pd.DataFrame:
    return _EMPTY.copy()


def normalize_report(frame: pd.DataFrame | None) -> pd.DataFrame:
    """A report frame with exactly the report columns and stable dtypes."""
    if frame is None:
        frame = pd.DataFrame(columns=list(REPORT_COLUMNS))
    out = frame.reindex(columns=list(REPORT_COLUMNS))
    out = out.astype(
        {
            "rule_id": "string",
            "severity": "string",
            "row": "Int64",
            "column": "string",
            "value": "string",
            "message": "string",
        }
    )
    return out.reset_index(drop=True)


_EMPTY = normalize_report(pd.DataFrame(columns=list(REPORT_COLUMNS)))


def problems(
    rule_id: str,
    severity: str,
    rows: Iterable[object] | pd.Series,
    column: str | None,
    values: Iterable[object] | pd.Series,
    messages: Iterable[str] | pd.Series | str,
) -> pd.DataFrame:
    """Many problems of one rule at once (rows, values and messages align; one message may
    serve them all)."""
    rows = pd.Series(list(rows) if not isinstance(rows, pd.Series) else rows.to_numpy())
    values = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy())
    if isinstance(messages, str):
        messages = pd.Series([messages] * len(rows))
    else:
        messages = pd.Series(
            list(messages) if not isinstance(messages, pd.Series) else messages.to_numpy()
        )
    frame = pd.DataFrame(
        {
            "rule_id": rule_id,
            "severity": severity,
            "row": pd.array(rows, dtype="Int64") if len(rows) else pd.array([], dtype="Int64"),
            "column": column,
            "value": values.astype("string") if len(values) else values,
            "message": messages,
        }
    )
    return normalize_report(frame)


def one_problem(
    rule_id: str,
    severity: str,
    message: str,
    *,
    row: int | None = None,
    column: str | None = None,
    value: object = None,
) -> pd.DataFrame:
    return problems(rule_id, severity, [row], column, [value], [message])


def concat_reports(reports: Iterable[pd.DataFrame | None]) -> pd.DataFrame:
    frames = [normalize_report(r) for r in reports if r is not None and len(r)]
    if not frames:
        return empty_report()
    if len(frames) == 1:
        return frames[0]
    return normalize_report(pd.concat(frames, ignore_index=True))
