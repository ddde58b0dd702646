"""Every command has a one-line help and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from tipstats.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> dict[str, str]:
    click_group = typer.main.get_command(app)
    return {name: (cmd.help or "") for name, cmd in click_group.commands.items()}


def test_every_command_has_a_one_line_help():
    commands = _commands()
    assert commands, "no commands registered"
    for name, help_text in commands.items():
        assert help_text.strip(), f"command {name} has no help"


def test_every_command_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in _commands() if f"tipstats {name}" not in readme]
    assert not missing, f"commands not documented in README.md: {missing}"


def test_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in _commands():
        assert name in result.output
