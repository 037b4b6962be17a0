"""The ``ntm`` command: serve, migrate, seed, import reference units, import and export assessments."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.core import migrations
from app.core.config import Settings
from app.core.db import Database
from app.criteria.models import AssessmentKind

cli = typer.Typer(help="NTM Tracker: New Rural Development criteria tracking service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
seed_cli = typer.Typer(help="Load data.", no_args_is_help=True)
units_cli = typer.Typer(help="Administrative units.", no_args_is_help=True)
assessments_cli = typer.Typer(help="Assessments upkeep.", no_args_is_help=True)
reports_cli = typer.Typer(help="Reports upkeep.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(seed_cli, name="seed")
cli.add_typer(units_cli, name="units")
cli.add_typer(assessments_cli, name="assessments")
cli.add_typer(reports_cli, name="reports")
console = Console(stderr=True)


async def prepare(settings: Settings, *, demo: bool = False) -> None:
    """Migrate to head, load the reference data, and the demo data when asked."""
    from app.auth.service import ensure_admin
    from app.reference import load_reference

    db = Database(settings)
    try:
        await migrations.upgrade(db.engine)
        async with db.transaction() as session:
            await load_reference(session)
            if await ensure_admin(session, settings):
                console.print(f"created administrator {settings.admin_username!r} (from NTM_ADMIN_USERNAME)")
        if demo:
            await _load_demo(db)
    finally:
        await db.dispose()


async def _load_demo(db: Database) -> None:
    from app.demo import load_demo, load_demo_users

    async with db.transaction() as session:
        await load_demo(session)
        await load_demo_users(session)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Also load the illustrative Si Ma Cai demo data")] = False,
    setup: Annotated[
        bool, typer.Option(help="Migrate and load the reference data first (--no-setup: the database is ready)")
    ] = True,
) -> None:
    """Apply migrations, load reference (and demo) data, then serve the API with uvicorn. With
    several workers on Linux each has its own socket on the port and the kernel spreads the
    connections over them (app/serving.py)."""
    import os
    import secrets

    from app import serving
    from app.core.config import InsecureConfiguration, is_placeholder_secret
    from app.core.logging import log_config

    if demo:
        _refuse_demo_in_production(Settings(), explicit_only=True)
        os.environ["NTM_ENV"] = "development"  # the workers read it too: demo accounts are fine here
    settings = Settings()
    if settings.env == "development" and is_placeholder_secret(settings.secret_key):
        # one random key for this run, shared by the workers (they read the environment); never a
        # key from the source. Tokens end when the server stops.
        os.environ["NTM_SECRET_KEY"] = secrets.token_urlsafe(48)
        console.print("[yellow]development: no NTM_SECRET_KEY, signing tokens with a random key made for this run[/]")
        settings = Settings()
    try:
        settings.signing_key  # noqa: B018
        settings.check_admin_password()
    except InsecureConfiguration as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"[bold]NTM Tracker[/] database: {_redact(settings.database_url)}")
    if setup or demo:
        asyncio.run(prepare(settings, demo=demo))
    console.print(f"Swagger UI: http://{host}:{port}/docs")
    serving.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        timeout_graceful_shutdown=30,
        # slow clients: the head of each request within NTM_HEADER_TIMEOUT_SECONDS (10) and at most
        # 16 KiB (serving.GuardedHttpToolsProtocol), an idle keep-alive connection closed after 5 s
        http=serving.GuardedHttpToolsProtocol,
        timeout_keep_alive=5,
    )


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Upgrade the schema (default: to head)."""
    asyncio.run(_migrate("upgrade", revision))


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base")]) -> None:
    """Downgrade the schema to REVISION."""
    asyncio.run(_migrate("downgrade", revision))


@db_cli.command("current")
def db_current() -> None:
    """Print the schema's revision and the migrations' head."""

    async def run() -> None:
        db = Database(Settings())
        try:
            current = await migrations.current_revision(db.engine)
        finally:
            await db.dispose()
        typer.echo(f"current: {current or '(none)'}\nhead:    {migrations.head_revision()}")

    asyncio.run(run())


@db_cli.command("roles")
def db_roles(
    owner: Annotated[str, typer.Option(help="Role that owns the schema and runs the migrations")] = "ntm_owner",
    service: Annotated[str, typer.Option(help="Role the API connects as (rows only, audit append-only)")] = "ntm_app",
    owner_password: Annotated[str | None, typer.Option(envvar="NTM_DB_OWNER_PASSWORD", show_default=False,
                                                        help="Its password (env NTM_DB_OWNER_PASSWORD)")] = None,
    service_password: Annotated[str | None, typer.Option(envvar="NTM_DB_SERVICE_PASSWORD", show_default=False,
                                                          help="Its password (env NTM_DB_SERVICE_PASSWORD)")] = None,
) -> None:
    """PostgreSQL, as a superuser (NTM_DATABASE_URL): create or update the owner and service roles,
    give the owner the schema's objects, and grant the service role its rights. Idempotent."""
    from app.ops import roles

    async def run() -> None:
        await _on_postgresql(lambda conn: roles.create_roles(
            conn, owner=owner, service=service, owner_password=owner_password, service_password=service_password))

    _run_roles(run)
    console.print(f"roles ready: {owner} owns the schema (run migrations as it), {service} serves the API")


@db_cli.command("grant")
def db_grant(
    service: Annotated[str, typer.Option(help="Role the API connects as")] = "ntm_app",
) -> None:
    """PostgreSQL, as the owner or a superuser, after migrating: grant the service role SELECT, INSERT,
    UPDATE, DELETE on every table (INSERT, SELECT only on the audit trail). Idempotent."""
    from app.ops import roles

    async def run() -> None:
        await _on_postgresql(lambda conn: roles.grant(conn, service=service))

    _run_roles(run)
    console.print(f"{service} granted its rights on every table")


async def _on_postgresql(work) -> None:
    from app.ops.roles import RoleError

    db = Database(Settings())
    try:
        if db.dialect != "postgresql":
            raise RoleError("roles are a PostgreSQL matter (SQLite has none)")
        async with db.engine.begin() as conn:
            await work(conn)
    finally:
        await db.dispose()


def _run_roles(run) -> None:
    from sqlalchemy.exc import DBAPIError

    from app.ops.roles import RoleError

    try:
        asyncio.run(run())
    except (RoleError, DBAPIError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


async def _migrate(action: str, revision: str) -> None:
    db = Database(Settings())
    try:
        await getattr(migrations, action)(db.engine, revision)
        current = await migrations.current_revision(db.engine)
    finally:
        await db.dispose()
    console.print(f"{action} done; schema at {current or '(base)'}")


def _refuse_demo_in_production(settings: Settings, *, explicit_only: bool = False) -> None:
    """Demo accounts have published passwords: never in a production database. ``explicit_only``:
    refuse only when NTM_ENV=production was set (``serve --demo`` switches the default to
    development)."""
    if settings.env == "production" and (not explicit_only or "env" in settings.model_fields_set):
        console.print("[red]Refused: the demo data comes with demo accounts whose passwords are published; it is "
                      "never loaded under NTM_ENV=production. Use NTM_ENV=development on a database of its own.[/]")
        raise typer.Exit(2)


def _prepare_or_exit(settings: Settings, *, demo: bool = False) -> None:
    from app.core.config import InsecureConfiguration

    try:
        asyncio.run(prepare(settings, demo=demo))
    except InsecureConfiguration as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@seed_cli.command("reference")
def seed_reference() -> None:
    """Migrate and load the built-in reference data (idempotent)."""
    _prepare_or_exit(Settings())
    console.print("reference data loaded")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Migrate, load reference data and the illustrative Si Ma Cai demo data (idempotent). Refused under
    NTM_ENV=production (the default): set NTM_ENV=development."""
    settings = Settings()
    _refuse_demo_in_production(settings)
    _prepare_or_exit(settings, demo=True)
    console.print("demo data and demo users loaded (illustrative figures; see README)")


@assessments_cli.command("rejudge")
def assessments_rejudge() -> None:
    """Recompute every stored assessment's indicator conflicts (the `indicator_conflict` flag) with
    the thresholds as they stand: for rows written before conflicts were stored. Idempotent."""

    from app.assessments import service as assessments_service

    async def run() -> tuple[int, int]:
        db = Database(Settings())
        try:
            async with db.transaction(write=True) as session:
                return await assessments_service.rejudge(session)
        finally:
            await db.dispose()

    checked, changed = asyncio.run(run())
    console.print(f"{checked} assessments with indicator values checked; {changed} had their conflicts corrected")


@reports_cli.command("rebuild")
def reports_rebuild() -> None:
    """Clear the stored per-parent report aggregates and recompute them all (every parent unit, kind
    assessed, approved_only or not, year with assessments). Never needed for correctness (a stale row
    is recomputed on read); after it, the first summaries are as fast as later ones."""

    from app.reports import stored

    async def run() -> dict[str, int]:
        db = Database(Settings())
        try:
            return await stored.rebuild(db)
        finally:
            await db.dispose()

    counts = asyncio.run(run())
    console.print(f"{counts['deleted']} stored aggregates cleared; {counts['stored']} computed and stored "
                  f"({counts['parents']} parent units, {counts['kinds']} kinds, {counts['years']} years, "
                  "approved only and not)")


class Scheme(StrEnum):
    legacy = "legacy"
    reform2025 = "2025"


@units_cli.command("import")
def units_import(
    scheme: Annotated[Scheme, typer.Option(help="legacy: 63 provinces with districts (until 2025-06-30); "
                                                  "2025: 34 provinces, two levels (from 2025-07-01)")],
    province: Annotated[str | None, typer.Option(help="Only this province (GSO code, e.g. 10)")] = None,
) -> None:
    """Import units from the vietnamadminunits package (offline), with lineage across the 2025 reform."""
    try:
        from app.units import importer
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        console.print(f"[red]{exc}[/]\nInstall the optional extra: pip install -e '.[units]'")
        raise typer.Exit(2) from exc

    async def run() -> importer.ImportReport:
        settings = Settings()
        await prepare(settings)
        db = Database(settings)
        try:
            async with db.transaction() as session:
                return await importer.import_units(session, scheme=scheme.value, province=province, console=console)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except importer.ImportProblem as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(
        f"units: {report.inserted} added, {report.existing} already present; lineage links added: {report.links}"
    )


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=".xlsx or .csv file")],
    year: Annotated[int, typer.Option(min=1900, max=2100, help="The assessment year")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, write nothing")] = False,
    as_user: Annotated[str | None, typer.Option("--as", help="Apply this user's permissions and name them in "
                                                               "the audit trail (default: cli, as administrator)")] = None,
    kind: Annotated[AssessmentKind, typer.Option(help="The kind of assessment (contract v1.1)")] = AssessmentKind.chuan,
) -> None:
    """Import a year of commune assessments from a spreadsheet: all rows or none (as POST /imports/assessments)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.auth.models import Principal
    from app.auth.service import principal_for_user
    from app.core.errors import AppError
    from app.exchange import service as exchange

    settings = Settings()
    data = file.read_bytes()

    async def run() -> object:
        await prepare(settings)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task(f"reading {file.name}", total=None)

            def step(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            files = await asyncio.to_thread(
                exchange.sheets.read, data, max_rows=settings.import_max_rows,
                max_unzipped_bytes=settings.import_max_unzipped_bytes, progress=step)
            rows = len(files[0].rows) if files else 0
            bar.update(task, completed=rows, total=rows)
            write = bar.add_task("checking and writing", total=None)
            db = Database(settings)
            try:
                async with db.transaction() as session:
                    principal = (await principal_for_user(session, as_user) if as_user
                                 else Principal.system("cli"))
                    result = await exchange.import_assessments(session, principal=principal, files=files, year=year,
                                                               dry_run=dry_run, kind=kind.value)
            finally:
                await db.dispose()
            bar.update(write, completed=1, total=1)
            return result

    try:
        result = asyncio.run(run())
    except exchange.sheets.SheetError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    except exchange.ImportRejected as exc:
        for error in exc.result.errors:
            where = f"row {error.row}" + (f", column {error.column}" if error.column else "")
            value = f" ({error.value!r})" if error.value is not None else ""
            console.print(f"[red]{where}{value}: {error.message}[/]")
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from exc
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(2) from exc
    r = result
    verb = "would be" if dry_run else "were"
    console.print(f"{r.rows} rows: {r.created} created, {r.updated} updated, {r.unchanged} unchanged, "  # type: ignore[attr-defined]
                  f"{r.skipped} skipped (blank) — changes {verb} written for {year}, set {r.criteria_set}")  # type: ignore[attr-defined]


@cli.command("export")
def export(
    unit: Annotated[str, typer.Argument(help="District, province or VN code, e.g. 084")],
    year: Annotated[int, typer.Option(min=1900, max=2100, help="The year")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="Output file: .xlsx (report workbook) or .csv")],
    template: Annotated[bool, typer.Option("--template", help="Write the import template (.xlsx) instead")] = False,
    kind: Annotated[AssessmentKind, typer.Option(help="The kind of assessment (contract v1.1)")] = AssessmentKind.chuan,
) -> None:
    """Write a unit's report workbook or CSV for a year (as GET /units/{code}/report.xlsx)."""
    from app.core.errors import AppError
    from app.exchange import service as exchange
    from app.exchange import workbooks
    from app.units.service import resolve_unit_above_commune

    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv") or (template and suffix != ".xlsx"):
        console.print("[red]--out must end in .xlsx or .csv (the template is always .xlsx)[/]")
        raise typer.Exit(2)

    async def run() -> bytes:
        settings = Settings()
        db = Database(settings)
        try:
            async with db.transaction() as session:
                found = await resolve_unit_above_commune(session, unit, year)
                data = await exchange.report_data(session, found, year, with_figures=not template, kind=kind.value)
        finally:
            await db.dispose()
        if template:
            return workbooks.template_xlsx(data)
        return workbooks.report_xlsx(data) if suffix == ".xlsx" else workbooks.report_csv(data)

    try:
        body = asyncio.run(run())
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(2) from exc
    out.write_bytes(body)
    console.print(f"wrote {out} ({len(body):,} bytes)")


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url


def main() -> None:
    cli()
