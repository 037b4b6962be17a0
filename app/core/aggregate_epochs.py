"""DDL, for the migrations: the triggers that raise the epochs of the stored report aggregates
(``report_agg_epoch``, see ``app/reports/tables.py``) in the writer's own transaction.

* ``assessment`` (insert, update, delete): the epoch of the commune's parent code (the
  ``parent_code`` of ``admin_unit`` ``unit_id``), old and new row;
* ``recognition``: the epoch of the recognised unit's parent code;
* ``admin_unit``, ``unit_lineage``: the epoch ``'*'``, which every stored aggregate also names.

An assessment of kind K in year Y moves only the figures of kind K in the years from Y on (a year
reads each commune's latest assessment up to it, and up to the year before). So when its trigger
raises a parent's epoch from e to e + 1, it also re-tags that parent's stored rows that were valid
at e and that the change cannot move (another kind, or a year before Y) with e + 1: they stay
valid, and the next trend after a write recomputes the written year onwards instead of every year
(``retag``; the migration ``22c4e6a8b0d2``). Each bump is one such step, so a row survives a
transaction only when none of its changes can move it. Recognitions and units move everything.

Whoever writes (the API, the import, ``psql``, ``sqlite3``) moves the epoch with its data. A
migration that rebuilds one of these tables on SQLite (batch mode) drops its triggers: call
``install(op)`` again after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, false, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

EPOCH_TABLE = "report_agg_epoch"
AGG_TABLE = "report_agg"
_OPS = {"ins": "INSERT", "upd": "UPDATE", "del": "DELETE"}
# table → SQL (over NEW/OLD as {row}) of the parent code whose epoch moves; None: '*'
# table → (year, kind) of a changed row of it (over NEW/OLD as {row}): the stored rows before that year,
# or of another kind, keep their validity (re-tagged); tables not named here stale every year
_RETAG: dict[str, tuple[str, str]] = {"assessment": ("{row}.year", "{row}.kind")}
_SOURCES: dict[str, str | None] = {
    "assessment": "(SELECT parent_code FROM admin_unit WHERE id = {row}.unit_id)",
    "recognition": "(SELECT parent_code FROM admin_unit WHERE id = {row}.unit_id)",
    "admin_unit": None,
    "unit_lineage": None,
}


def _rows(op: str) -> list[str]:
    return {"ins": ["NEW"], "upd": ["OLD", "NEW"], "del": ["OLD"]}[op]


# A new epoch row starts from the clock (milliseconds), not from 0: were the rows ever emptied, the
# epochs would not count through values that rows stored before were tagged with.
SQLITE_START = "CAST(strftime('%s', 'now') AS INTEGER) * 1000"
POSTGRESQL_START = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


def _sqlite_bump(code_sql: str, retag: tuple[str, str] | None = None) -> list[str]:
    # INSERT OR IGNORE then UPDATE: no UPSERT inside triggers on older SQLite
    out = [
        f"INSERT OR IGNORE INTO {EPOCH_TABLE} (parent_code, epoch) SELECT c, {SQLITE_START} FROM (SELECT {code_sql} AS c) "
        "WHERE c IS NOT NULL;",
    ]
    if retag is not None:  # before the epoch moves: the rows valid now, that this change cannot move
        year, kind = retag
        out.append(f"UPDATE {AGG_TABLE} SET epoch = epoch + 1 WHERE parent_code = {code_sql} "
                   f"AND (year < {year} OR kind <> {kind}) "
                   f"AND epoch = (SELECT epoch FROM {EPOCH_TABLE} WHERE parent_code = {code_sql});")
    out.append(f"UPDATE {EPOCH_TABLE} SET epoch = epoch + 1 WHERE parent_code = {code_sql};")
    return out


def _postgresql_bump(retag: bool) -> str:
    if not retag:
        return f"""CREATE OR REPLACE FUNCTION ntm_agg_bump(code text) RETURNS void AS $$
            BEGIN
                IF code IS NOT NULL THEN
                    INSERT INTO {EPOCH_TABLE} (parent_code, epoch) VALUES (code, {POSTGRESQL_START})
                    ON CONFLICT (parent_code) DO UPDATE SET epoch = {EPOCH_TABLE}.epoch + 1;
                END IF;
            END $$ LANGUAGE plpgsql"""
    # the epoch row is locked from the bump to the commit: no other writer re-tags or bumps between
    return f"""CREATE OR REPLACE FUNCTION ntm_agg_bump(code text, from_year integer DEFAULT NULL,
                                                    of_kind text DEFAULT NULL) RETURNS void AS $$
        DECLARE
            now_at bigint;
        BEGIN
            IF code IS NOT NULL THEN
                INSERT INTO {EPOCH_TABLE} (parent_code, epoch) VALUES (code, {POSTGRESQL_START})
                ON CONFLICT (parent_code) DO UPDATE SET epoch = {EPOCH_TABLE}.epoch + 1
                RETURNING epoch INTO now_at;
                IF from_year IS NOT NULL THEN
                    -- rows a reader's store holds are skipped, not waited for (they stay stale: safe);
                    -- so a committing writer never waits for a store that waits for it
                    UPDATE {AGG_TABLE} SET epoch = now_at
                    WHERE ctid = ANY (ARRAY(
                        SELECT ctid FROM {AGG_TABLE}
                        WHERE parent_code = code AND epoch = now_at - 1 AND (year < from_year OR kind <> of_kind)
                        FOR UPDATE SKIP LOCKED));
                END IF;
            END IF;
        END $$ LANGUAGE plpgsql"""


def ddl_install(dialect: str, *, retag: bool = True) -> list[str]:
    """The triggers; ``retag=False``: as the migration ``19e5a7b9c1d3`` made them (every year staled)."""
    out = ddl_uninstall(dialect)
    if dialect == "postgresql":
        out.append(_postgresql_bump(retag))
        out.append("CREATE OR REPLACE FUNCTION ntm_agg_everything() RETURNS trigger AS $$ "
                   "BEGIN PERFORM ntm_agg_bump('*'); RETURN NULL; END $$ LANGUAGE plpgsql")
        for table, source in _SOURCES.items():
            if source is None:
                body = "PERFORM ntm_agg_bump('*');"
            else:
                def call(row: str, table: str = table, source: str = source) -> str:
                    args = [source.format(row=row)]
                    if retag and table in _RETAG:
                        args += [part.format(row=row) for part in _RETAG[table]]
                    return "PERFORM ntm_agg_bump(" + ", ".join(args) + ");"
                # an update that moves the row to another year or kind: both bumps (a stored row
                # stays valid only when neither can move it)
                moved = "NEW.unit_id IS DISTINCT FROM OLD.unit_id"
                if retag and table in _RETAG:
                    moved += "".join(f" OR {part.format(row='NEW')} IS DISTINCT FROM {part.format(row='OLD')}"
                                     for part in _RETAG[table])
                body = (
                    f"IF TG_OP <> 'INSERT' THEN {call('OLD')} END IF;\n"
                    f"IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR {moved}) THEN {call('NEW')} END IF;"
                )
            out.append(
                f"CREATE OR REPLACE FUNCTION ntm_agg_{table}() RETURNS trigger AS $$ BEGIN {body} RETURN NULL; END $$ "
                "LANGUAGE plpgsql"
            )
            if source is None:  # '*': once per statement is enough
                out.append(f"CREATE TRIGGER ntm_agg_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION ntm_agg_{table}()")
            else:
                # a parent: per row (each names its own), deferred to the commit: the epoch's row lock
                # is taken last and held only while committing, so writers of one district queue
                # briefly and a writer holding it never waits for another's data rows (the lock
                # order, see ``hold``); still in the writer's transaction, atomically with its data
                out.append(f"CREATE CONSTRAINT TRIGGER ntm_agg_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                           f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ntm_agg_{table}()")
            if source is not None:  # TRUNCATE has no rows to name a parent by: everything moves
                out.append(f"CREATE TRIGGER ntm_agg_{table}_truncate AFTER TRUNCATE ON {table} "
                           "FOR EACH STATEMENT EXECUTE FUNCTION ntm_agg_everything()")
        return out
    for table, source in _SOURCES.items():
        for short, op in _OPS.items():
            if source is None:
                statements = _sqlite_bump("'*'")
            else:
                statements = [
                    s for row in _rows(short)
                    for s in _sqlite_bump(source.format(row=row), tuple(part.format(row=row) for part in _RETAG[table])
                                          if retag and table in _RETAG else None)  # type: ignore[arg-type]
                ]
            out.append(f"CREATE TRIGGER ntm_agg_{table}_{short} AFTER {op} ON {table} BEGIN " + " ".join(statements) + " END")
    return out


def ddl_uninstall(dialect: str) -> list[str]:
    if dialect == "postgresql":
        out = [f"DROP TRIGGER IF EXISTS ntm_agg_{table}{tail} ON {table}" for table in _SOURCES for tail in ("", "_truncate")]
        out += [f"DROP FUNCTION IF EXISTS ntm_agg_{table}()" for table in _SOURCES]
        return [*out, "DROP FUNCTION IF EXISTS ntm_agg_everything()", "DROP FUNCTION IF EXISTS ntm_agg_bump(text)",
                "DROP FUNCTION IF EXISTS ntm_agg_bump(text, integer, text)"]
    return [f"DROP TRIGGER IF EXISTS ntm_agg_{table}_{short}" for table in _SOURCES for short in _OPS]


def install(op: Any, *, retag: bool = True) -> None:
    for statement in ddl_install(op.get_bind().dialect.name, retag=retag):
        op.execute(statement)


def uninstall(op: Any) -> None:
    for statement in ddl_uninstall(op.get_bind().dialect.name):
        op.execute(statement)


def triggers_in_database_sql(dialect: str) -> str:
    """A query listing the tables whose changes move the aggregate epochs (for the tests)."""
    if dialect == "postgresql":
        return ("SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE 'ntm\\_agg\\_%' AND NOT t.tgisinternal")
    return "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ntm\\_agg\\_%' ESCAPE '\\'"


TABLES = frozenset(_SOURCES)


# the epoch table's two columns, for ``hold`` (its model is ``app.reports.tables.ReportAggEpoch``)
_EPOCHS = Table(EPOCH_TABLE, MetaData(), Column("parent_code", String(8), primary_key=True), Column("epoch", BigInteger))
HOLD_CHUNK = 500  # codes per statement (2 parameters each)


async def hold(session: AsyncSession, parent_codes: Iterable[str | None]) -> None:
    """PostgreSQL: lock the epoch rows of these parents (creating the missing ones), in code order,
    *after* writing the assessments of many parents (an import, an upkeep command), before the
    commit.

    The lock order of every writer is: data rows first, epoch rows last. The epoch triggers are
    deferred to the commit, so a PUT, ``psql`` or any writer takes its epoch rows there, after its
    rows. A writer of many parents would take them at the commit in the order its rows were
    written, and two such writers could take them crosswise; taken here in code order they queue
    instead. A writer holding epoch rows waits only for other epoch rows, never for data rows, so
    it never closes a cycle with a writer still at its rows. (Taken *before* the rows, an import
    deadlocked with a PUT creating the same assessment: each held what the other waited for.)

    One statement per chunk: ``ON CONFLICT DO UPDATE … WHERE false`` locks an existing row without
    writing it. SQLite writers are serialised anyway: nothing to do."""
    codes = sorted({code for code in parent_codes if code is not None})
    if not codes or session.get_bind().dialect.name != "postgresql":
        return
    for start in range(0, len(codes), HOLD_CHUNK):
        stmt = postgresql.insert(_EPOCHS).values(
            [{"parent_code": code, "epoch": literal_column(POSTGRESQL_START)} for code in codes[start:start + HOLD_CHUNK]]
        )
        await session.execute(stmt.on_conflict_do_update(index_elements=[_EPOCHS.c.parent_code],
                                                         set_={"epoch": _EPOCHS.c.epoch}, where=false()))
