"""tipstats codes / countries as a user runs them (the real console script, so exit codes hold)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tipstats.cli import app

runner = CliRunner()


def test_codes_without_argument_lists_dimensions_and_sizes():
    result = runner.invoke(app, ["codes"])
    assert result.exit_code == 0
    assert "exploitation" in result.stdout and "citizenship" in result.stdout


def test_codes_sex_prints_codes_with_three_languages():
    result = runner.invoke(app, ["codes", "sex"], terminal_width=200)
    assert result.exit_code == 0
    for text in ("_T", "Female", "Femmes", "Mujeres", "UNKNOWN"):
        assert text in result.stdout


def test_countries_by_glotip_region():
    result = runner.invoke(app, ["countries", "--scheme", "GLOTIP"], terminal_width=200)
    assert result.exit_code == 0
    assert "MEX" in result.stdout and "North America" in result.stdout


@pytest.mark.parametrize("args", [["codes", "colour"], ["countries", "--scheme", "NOPE"]])
def test_unknown_dimension_or_scheme_is_one_line_exit_2(args):
    code = "from tipstats.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: unknown")
