"""IO: write synthetic submissions (``tipstats.synthetic``) as one file per country and year.

CSV files are written straight from pre-joined lines when no cell needs quoting, so the world
workload (200 countries x 20 years, 4,000 files) is written in a few seconds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tipstats import columns as C
from tipstats.codelists import load_codelists
from tipstats.errors import UsageError
from tipstats.home import reference_dir, samples_dir
from tipstats.synthetic import Profile, split_files, synthetic_submissions, with_labels

FORMATS = ("csv", "xlsx")
XLSX_SHEET = "data"


def profile_path() -> Path:
    return samples_dir() / "generator" / "profile.toml"


def read_profile(path: Path | None = None) -> Profile:
    path = path or profile_path()
    try:
        return Profile(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as problem:
        raise UsageError(f"cannot read the generator profile {path}: {problem}") from None


def header_labels(language: str) -> dict[str, str]:
    """The first header alias of each template column in ``language`` (English: the names)."""
    if language == "en":
        return {}
    aliases = pd.read_csv(reference_dir() / "header_aliases.csv", dtype=str)
    aliases = aliases[aliases["language"] == language].drop_duplicates("column")
    return dict(zip(aliases["column"], aliases["alias"], strict=True))


@dataclass(frozen=True)
class SampleFiles:
    folder: Path
    paths: list[Path]
    n_rows: int
    countries: list[str]


def generate_sample_files(
    out: Path,
    countries: int | list[str],
    years: list[int],
    seed: int,
    *,
    file_format: str = "csv",
    language: str = "en",
) -> SampleFiles:
    """Generate synthetic submissions and write ``<ISO3>_<year>.<format>`` files into ``out``."""
    if file_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got `{file_format}`")
    codelists = load_codelists()
    frame = synthetic_submissions(codelists, read_profile(), countries, years, seed)
    files = split_files(frame)
    countries_written = sorted(set(frame[C.COUNTRY]))
    if language != "en":
        frame = with_labels(frame, codelists, language)
    frame = frame.rename(columns=header_labels(language))
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{iso3}_{year}.{file_format}" for iso3, year, _ in files]
    if file_format == "xlsx":
        for path, (_, _, rows) in zip(paths, files, strict=True):
            frame.iloc[rows].to_excel(path, sheet_name=XLSX_SHEET, index=False)
    else:
        _write_csv(frame, paths, [rows for _, _, rows in files])
    return SampleFiles(
        folder=out,
        paths=paths,
        n_rows=len(frame),
        countries=countries_written,
    )


def _write_csv(frame: pd.DataFrame, paths: list[Path], chunks: list[slice]) -> None:
    needs_quoting = frame.apply(lambda column: column.str.contains(r'[,"\n]', regex=True).any())
    if needs_quoting.any() or any(c in ',"\n' for name in frame.columns for c in name):
        for path, rows in zip(paths, chunks, strict=True):
            frame.iloc[rows].to_csv(path, index=False, lineterminator="\n")
        return
    lines = frame[frame.columns[0]].astype(str)
    for column in frame.columns[1:]:
        lines = lines + "," + frame[column].astype(str)
    lines = lines.to_numpy()
    header = ",".join(frame.columns) + "\n"
    for path, rows in zip(paths, chunks, strict=True):
        path.write_text(header + "\n".join(lines[rows]) + "\n", encoding="utf-8")


__all__ = ["FORMATS", "SampleFiles", "generate_sample_files", "read_profile"]
