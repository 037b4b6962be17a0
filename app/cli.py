"""The ``ntm`` command: serve, migrate, seed, import reference units."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from app.core import migrations
from app.core.config import Settings
from app.core.db import Database

cli = typer.Typer(help="NTM Tracker: New Rural Development criteria tracking service.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
seed_cli = typer.Typer(help="Load data.", no_args_is_help=True)
units_cli = typer.Typer(help="Administrative units.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(seed_cli, name="seed")
cli.add_typer(units_cli, name="units")
console = Console(stderr=True)


async def prepare(settings: Settings, *, demo: bool = False) -> None:
    """Migrate to head, load the reference data, and the demo data when asked."""
    from app.reference import load_reference

    from app.auth.service import ensure_admin

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
) -> None:
    """Apply migrations, load reference (and demo) data, then serve the API with uvicorn."""
    import os

    import uvicorn

    from app.core.config import InsecureConfiguration
    from app.core.logging import log_config

    if demo:
        os.environ["NTM_ENV"] = "development"  # the workers read it too: demo secrets are fine
    settings = Settings()
    try:
        settings.signing_key  # noqa: B018
    except InsecureConfiguration as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"[bold]NTM Tracker[/] database: {_redact(settings.database_url)}")
    asyncio.run(prepare(settings, demo=demo))
    console.print(f"Swagger UI: http://{host}:{port}/docs")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        timeout_graceful_shutdown=30,
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


async def _migrate(action: str, revision: str) -> None:
    db = Database(Settings())
    try:
        await getattr(migrations, action)(db.engine, revision)
        current = await migrations.current_revision(db.engine)
    finally:
        await db.dispose()
    console.print(f"{action} done; schema at {current or '(base)'}")


@seed_cli.command("reference")
def seed_reference() -> None:
    """Migrate and load the built-in reference data (idempotent)."""
    asyncio.run(prepare(Settings()))
    console.print("reference data loaded")


@seed_cli.command("demo")
def seed_demo() -> None:
    """Migrate, load reference data and the illustrative Si Ma Cai demo data (idempotent)."""
    asyncio.run(prepare(Settings(), demo=True))
    console.print("demo data and demo users loaded (illustrative figures; see README)")


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


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url


def main() -> None:
    cli()
