"""The `ntm` command line against a throwaway SQLite file."""

from __future__ import annotations

import re
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


def _demo(tmp_path, monkeypatch) -> CliRunner:
    """A runner over a new SQLite database holding the demo data."""
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("NTM_ENV", "development")
    runner = CliRunner()
    assert runner.invoke(cli, ["seed", "demo"]).exit_code == 0
    return runner


def test_export_then_import_round_trip(tmp_path, monkeypatch):
    import openpyxl

    from tests.exchange.files import HEADER_19, marks, xlsx

    runner = _demo(tmp_path, monkeypatch)
    report = tmp_path / "report.xlsx"
    result = runner.invoke(cli, ["export", "084", "--year", "2021", "--out", str(report)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(report)
    assert book.sheetnames[0] == "Báo cáo"
    totals = {r[0]: r[1] for r in book["Báo cáo"].iter_rows(values_only=True) if r[0]}
    assert totals["Bình quân tiêu chí/xã"] == 16.1

    result = runner.invoke(cli, ["import", str(report), "--year", "2021"])
    assert result.exit_code == 0, result.output
    assert "9 rows: 0 created, 0 updated, 9 unchanged" in result.output

    csv_out = tmp_path / "report.csv"
    assert runner.invoke(cli, ["export", "084", "--year", "2021", "--out", str(csv_out)]).exit_code == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")
    template = tmp_path / "template.xlsx"
    assert runner.invoke(cli, ["export", "084", "--year", "2022", "--out", str(template), "--template"]).exit_code == 0

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([HEADER_19, ["02812", "Sán Chải", *marks(19)], ["02800", "Nàn Sán", "?", *marks(0)[1:]]]))
    result = runner.invoke(cli, ["import", str(bad), "--year", "2022"])
    assert result.exit_code == 1
    assert "row 3, column C ('?')" in result.output and "nothing was written" in result.output
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([HEADER_19, ["02812", "Sán Chải", *marks(19)]]))
    result = runner.invoke(cli, ["import", str(good), "--year", "2022", "--as", "si-ma-cai"])
    assert result.exit_code == 0, result.output
    assert "1 rows: 1 created" in result.output
    assert runner.invoke(cli, ["import", str(good), "--year", "2022", "--as", "san-chai"]).exit_code == 0
    assert runner.invoke(cli, ["import", str(good), "--year", "2022", "--as", "nobody"]).exit_code == 2


def test_demo_is_refused_under_production(tmp_path, monkeypatch):
    path = tmp_path / "prod.db"
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("NTM_ENV", raising=False)  # production is the default
    runner = CliRunner()
    result = runner.invoke(cli, ["seed", "demo"])
    assert result.exit_code == 2 and "NTM_ENV=production" in result.output
    monkeypatch.setenv("NTM_ENV", "production")
    monkeypatch.setenv("NTM_SECRET_KEY", "k" * 48)
    result = runner.invoke(cli, ["serve", "--demo", "--port", "1"])
    assert result.exit_code == 2 and "NTM_ENV=production" in result.output
    assert not path.exists()  # nothing was created


def test_a_weak_first_admin_password_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("NTM_ADMIN_USERNAME", "root")
    monkeypatch.setenv("NTM_ADMIN_PASSWORD", "x")
    result = CliRunner().invoke(cli, ["seed", "reference"])
    assert result.exit_code == 2 and "NTM_ADMIN_PASSWORD must be at least 10 characters" in result.output
    monkeypatch.setenv("NTM_SECRET_KEY", "k" * 48)
    result = CliRunner().invoke(cli, ["serve", "--no-setup", "--port", "1"])
    assert result.exit_code == 2 and "NTM_ADMIN_PASSWORD" in result.output


def test_assessments_rejudge(tmp_path, monkeypatch):
    runner = _demo(tmp_path, monkeypatch)
    first = runner.invoke(cli, ["assessments", "rejudge"])
    assert first.exit_code == 0, first.output
    assert "checked" in first.output
    again = runner.invoke(cli, ["assessments", "rejudge"])
    assert again.exit_code == 0 and "0 had their conflicts corrected" in again.output


def test_reports_rebuild(tmp_path, monkeypatch):
    runner = _demo(tmp_path, monkeypatch)
    first = runner.invoke(cli, ["reports", "rebuild"])
    assert first.exit_code == 0, first.output
    found = re.search(r"(\d+) stored aggregates cleared; (\d+) computed and stored", " ".join(first.output.split()))
    assert found is not None, first.output
    stored = int(found.group(2))
    assert stored > 0  # 4 parent units (VN, 10, 084, 15) x 2 years x approved only or not, at least
    again = runner.invoke(cli, ["reports", "rebuild"])
    assert again.exit_code == 0
    assert f"{stored} stored aggregates cleared; {stored} computed" in " ".join(again.output.split())
