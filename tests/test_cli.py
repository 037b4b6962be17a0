"""The `ntm` command line against a throwaway SQLite file."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from app.cli import cli


def test_db_upgrade_downgrade_and_seed(tmp_path, monkeypatch):
    path = tmp_path / "cli.db"
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{path}")
    runner = CliRunner()

    result = runner.invoke(cli, ["seed", "reference"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM admin_unit").fetchone() == (17,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    result = runner.invoke(cli, ["db", "current"])
    assert result.exit_code == 0
    current, head = [line.split()[-1] for line in result.output.splitlines()[:2]]
    assert current == head != "(none)"

    result = runner.invoke(cli, ["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name='admin_unit'").fetchone() is None


def test_units_import_refuses_bad_province(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(cli, ["units", "import", "--scheme", "legacy", "--province", "abc"])
    assert result.exit_code == 2
