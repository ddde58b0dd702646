"""`tipstats mse`: human output, JSON, the model table and the error paths."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tipstats.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mse"
runner = CliRunner()


def test_mse_json_has_estimate_interval_and_model():
    result = runner.invoke(
        app, ["mse", str(FIXTURES / "Korea.csv"), "--json", "--bootstrap", "100", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["observed"] == 123
    assert round(payload["estimate"], 3) == 268.778
    assert payload["model"] == "main effects + b:c"
    assert payload["ci_low"] <= payload["estimate"] <= payload["ci_high"]
    assert payload["dark_figure"] == payload["estimate"] - 123
    assert payload["seed"] == 5 and payload["n_resamples"] == 100


def test_mse_json_is_reproducible_with_a_seed():
    args = ["mse", str(FIXTURES / "Western.csv"), "--json", "--bootstrap", "60", "--seed", "9"]
    first = json.loads(runner.invoke(app, args).stdout)
    second = json.loads(runner.invoke(app, args).stdout)
    assert (first["ci_low"], first["ci_high"]) == (second["ci_low"], second["ci_high"])


def test_mse_prints_summary_and_model_table():
    result = runner.invoke(
        app, ["mse", str(FIXTURES / "Korea.csv"), "--bootstrap", "50", "--table"]
    )
    assert result.exit_code == 0, result.output
    for text in ("observed", "123", "estimate", "268.8", "dark figure", "145.8", "95% CI"):
        assert text in result.stdout
    assert "main effects + b:c" in result.stdout
    assert "std. error" in result.stdout and "(intercept)" in result.stdout


def test_mse_without_bootstrap_and_with_threshold():
    result = runner.invoke(
        app, ["mse", str(FIXTURES / "Korea.csv"), "--bootstrap", "0", "--threshold", "0", "--json"]
    )
    payload = json.loads(result.stdout)
    assert payload["model"] == "main effects"
    assert payload["ci_low"] is None
    assert round(payload["estimate"], 2) == 141.99


def test_mse_missing_file_exits_2():
    result = runner.invoke(app, ["mse", "no/such/file.csv"])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_mse_bad_file_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "lists.csv"
    bad.write_text("A,B,total\n1,0,4\n0,1,3\n")
    result = runner.invoke(app, ["mse", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no count column" in lines[0] and "lists.csv" in lines[0]
    assert "Traceback" not in result.output


def test_mse_inestimable_table_explains_why(tmp_path):
    singles = tmp_path / "singles.csv"
    singles.write_text("A,B,C,Freq\n1,0,0,5\n0,1,0,6\n0,0,1,7\n")
    result = runner.invoke(app, ["mse", str(singles), "--bootstrap", "0"])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_mse_binary_garbage_is_rejected(tmp_path):
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x01\x02garbage\x00")
    result = runner.invoke(app, ["mse", str(garbage)])
    assert result.exit_code == 1
    assert "error" in result.stderr


def test_mse_stores_the_estimate_apart_from_detected_victims(tmp_path):
    import duckdb

    args = ["mse", str(FIXTURES / "Korea.csv"), "--bootstrap", "20", "--json"]
    where = ["--country", "Korea, Republic of", "--year", "2010", "--home", str(tmp_path)]
    first = runner.invoke(app, [*args, *where])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["stored"] == {"country": "KOR", "year": 2010}
    assert runner.invoke(app, [*args, "--seed", "2", *where]).exit_code == 0
    con = duckdb.connect(str(tmp_path / "warehouse" / "tipstats.duckdb"), read_only=True)
    rows = con.execute(
        "select indicator, status, round(value, 3), valid_to is null from estimates order by 4"
    ).fetchall()
    assert rows == [
        ("VICTIMS_ESTIMATED_TOTAL", "E", 268.778, False),
        ("VICTIMS_ESTIMATED_TOTAL", "E", 268.778, True),
    ]
    assert con.execute("select count(*) from observations").fetchone()[0] == 0
    con.close()


def test_mse_country_without_year_is_a_usage_error(tmp_path):
    result = runner.invoke(
        app, ["mse", str(FIXTURES / "Korea.csv"), "--country", "KOR", "--home", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--country and --year go together" in result.stderr
