"""`tipstats validate`: exit codes, JSON output, the report files, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tipstats.cli import app

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
runner = CliRunner()

HEADER = "country,year,indicator,sex,age,exploitation,citizenship,value,status,source,comment\n"


def write(tmp_path: Path, body: str, name: str = "nld.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_accepted_file_exits_0_and_writes_reports(tmp_path):
    path = write(tmp_path, "NLD,2021,VICTIMS_DETECTED,_T,_T,_T,_T,120,A,POLICE,\n")
    home = tmp_path / "home"
    result = runner.invoke(app, ["validate", str(path), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert (home / "reports" / "nld.validation.csv").exists()
    assert (home / "reports" / "nld.validation.html").exists()


def test_accepted_with_warnings_exits_0(tmp_path):
    result = runner.invoke(
        app, ["validate", str(BAD / "parts_unknown_mismatch.csv"), "--home", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "identity.parts_unknown_mismatch" in result.output


def test_rejected_file_exits_1_with_counts_and_first_problems(tmp_path):
    result = runner.invoke(
        app, ["validate", str(BAD / "negative_value.csv"), "--home", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "rejected" in result.output
    assert "value.negative" in result.output
    assert "Full report" in result.output


def test_json_output_is_the_report_only(tmp_path):
    result = runner.invoke(
        app, ["validate", str(BAD / "two_countries.csv"), "--json", "--home", str(tmp_path)]
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["accepted"] is False
    assert [(p["rule_id"], p["row"]) for p in payload["problems"]] == [("country.multiple", 4)]
    assert Path(payload["report_csv"]).exists()


def test_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.csv"), "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_unsupported_type_is_a_usage_error(tmp_path):
    path = tmp_path / "data.pdf"
    path.write_bytes(b"%PDF-1.4 nothing")
    result = runner.invoke(app, ["validate", str(path), "--home", str(tmp_path)])
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize(
    "name", ["binary_garbage.csv", "empty.csv", "nul_bytes.csv", "truncated.xlsx", "zip_bomb.xlsx"]
)
def test_bad_files_give_one_line_and_exit_1(tmp_path, name):
    path = BAD / name
    if not path.exists():
        pytest.skip(f"{name} is a readers fixture not present in this checkout")
    result = runner.invoke(app, ["validate", str(path), "--home", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_html_report_is_escaped(tmp_path):
    path = write(tmp_path, "NLD,2021,VICTIMS_DETECTED,<b>x</b>,_T,_T,_T,1,A,POLICE,\n", "x.csv")
    result = runner.invoke(app, ["validate", str(path), "--home", str(tmp_path)])
    assert result.exit_code == 1
    page = (tmp_path / "reports" / "x.validation.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_validate_compares_with_the_history_in_the_warehouse(tmp_path):
    from tipstats import warehouse
    from tipstats.home import resolve_home

    home = tmp_path / "home"
    before = write(tmp_path, "NLD,2020,VICTIMS_DETECTED,_T,_T,_T,_T,100,A,POLICE,\n", "n20.csv")
    assert warehouse.submit(before, resolve_home(home)).status == "accepted"
    after = write(tmp_path, "NLD,2021,VICTIMS_DETECTED,_T,_T,_T,_T,400,A,POLICE,\n", "n21.csv")
    result = runner.invoke(app, ["validate", str(after), "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    problems = json.loads(result.stdout)["problems"]
    assert [(p["rule_id"], p["row"]) for p in problems] == [("plausibility.large_change", 2)]
    # another home, no warehouse: nothing to compare with, nothing flagged
    result = runner.invoke(app, ["validate", str(after), "--json", "--home", str(tmp_path / "x")])
    assert json.loads(result.stdout)["problems"] == []


def test_header_only_file_is_reported_once(tmp_path):
    result = runner.invoke(
        app, ["validate", str(BAD / "header_only.csv"), "--json", "--home", str(tmp_path)]
    )
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [(p["rule_id"], p["row"]) for p in problems] == [("structure.no_data_rows", 1)]
