"""Engine and session factory, one per process, shared by every request.

SQLite runs with WAL, foreign keys and a busy timeout. Its transactions are begun
by us rather than by the driver so that DDL is transactional (migrations roll back
whole) and so that write requests take the write lock up front (``BEGIN IMMEDIATE``)
instead of failing with "database is locked" when two of them upgrade a read lock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, MetaData, Select, String, bindparam, event, func, literal, select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, object_mapper
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.util import await_
from sqlmodel import Field, SQLModel

from app.core.admission import statement_started
from app.core.cache import SCOPE_PREFIX, Generation, ResponseCache, WriteScope
from app.core.changes import CHANGE_TABLE, CHANNEL, REPORTS, WATCHED, topics_of
from app.core.config import Settings
from app.core.logging import watch_slow_queries

_log = logging.getLogger("ntm.db")

# Stable constraint names, so migrations name what they create and can drop it again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# Execution option carried by the connections of write transactions (``Database.transaction``):
# SQLite begins them with ``BEGIN IMMEDIATE``.
WRITE_OPTION = "ntm_write"

SCOPE_KEY = "ntm_write_scope"
WRITTEN_KEY = "ntm_written_tables"  # session.info: the tables the current transaction wrote
CACHE_KEY = "ntm_cache"  # session.info: the cache its commits stale
# session.info: whether the reports may use their stored aggregates (``Settings.report_aggregates``)
AGGREGATES_KEY = "ntm_report_aggregates"
# session.info: work to run after the transaction ended (each ``async (Database) -> None``), in
# transactions of their own, in the background (the request never waits for it), best effort:
# the reports' stores of the aggregates they computed
AFTERWARDS_KEY = "ntm_afterwards"
# session.info: a read transaction's reports generation, read before its first statement (what
# ``remembered`` keeps is labelled with it: never older than its label); None in write transactions
MEMO_GENERATION_KEY = "ntm_memo_generation"
# session.info of read transactions (``Database.transaction(write=False)``): any write in one is refused
READ_ONLY_KEY = "ntm_read_only"


class ReadOnlyViolation(RuntimeError):
    """A write attempted in a read transaction: a programming error (a 500), refused before it is sent.
    On PostgreSQL a read's statements each commit on their own, so nothing may write there."""


class ChangeToken(SQLModel, table=True):
    """SQLite: one row per topic of ``app/core/changes.py``, its token rewritten (random) by the
    triggers on the topic's tables at every change. Empty on PostgreSQL (NOTIFY does that job)."""

    __tablename__ = CHANGE_TABLE

    topic: str = Field(primary_key=True, max_length=16)
    token: int = Field(sa_column=Column(BigInteger, nullable=False))


class TrackedSession(Session):
    """A session that notes in ``info[WRITTEN_KEY]`` which tables its transaction writes — by ORM
    flush or by an INSERT/UPDATE/DELETE statement — so that its commit stales only the cached
    answers those tables feed (``app/core/changes.py``)."""


def _note(session: Session, tables: set[str]) -> None:
    session.info.setdefault(WRITTEN_KEY, set()).update(tables)


@event.listens_for(TrackedSession, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    # still the pre-flush lists here
    _note(session, {t.name for obj in (*session.new, *session.dirty, *session.deleted)
                    for t in object_mapper(obj).tables})


_DML = re.compile(r"\b(?:insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+\"?(\w+)", re.I)
_WRITE_WORDS = re.compile(r"\b(?:insert|update|delete|truncate|copy|merge|drop|alter)\b", re.I)


# a statement that writes, by its first word (after any comments): what a read transaction refuses
# of plain SQL (a keyword elsewhere, in a string or a name, is no write)
_WRITE_STATEMENT = re.compile(
    r"^(?:\s+|--[^\n]*\n|/\*.*?\*/)*(?:(?:insert|update|delete|truncate|copy|merge|drop|alter|create|grant|revoke)\b"
    r"|with\b.*\b(?:insert|update|delete)\b)", re.I | re.S)


@event.listens_for(TrackedSession, "before_flush")
def _refuse_flush_in_reads(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY_KEY) and (
        session.new or session.deleted or any(session.is_modified(obj) for obj in session.dirty)
    ):
        raise ReadOnlyViolation("a read transaction cannot write (ORM changes pending)")


@event.listens_for(TrackedSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        text = statement.text
        if _WRITE_WORDS.search(text):
            found = set(_DML.findall(text))
            # one plain INSERT/UPDATE/DELETE names its table; anything else may have touched anything
            _note(state.session, found if len(found) == 1 and len(_WRITE_WORDS.findall(text)) == 1 else set(WATCHED))
    elif state.is_insert or state.is_update or state.is_delete:
        table = getattr(statement, "table", None)
        _note(state.session, {table.name} if table is not None and hasattr(table, "name") else set(WATCHED))
    if state.session.info.get(READ_ONLY_KEY) and (
        state.is_insert or state.is_update or state.is_delete
        or (isinstance(statement, TextClause) and _WRITE_STATEMENT.match(statement.text))
    ):
        raise ReadOnlyViolation("a read transaction cannot write")


@event.listens_for(TrackedSession, "after_commit")
def _after_commit(session: Session) -> None:
    written = session.info.pop(WRITTEN_KEY, None)
    scope = session.info.pop(SCOPE_KEY, None)
    cache_ = session.info.get(CACHE_KEY)
    if written and cache_ is not None:
        cache_.bump(topics_of(written), scope)


@event.listens_for(TrackedSession, "after_transaction_create")
def _after_begin(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # a new outermost transaction: nothing written yet
        session.info.pop(WRITTEN_KEY, None)
        session.info.pop(SCOPE_KEY, None)


@cache
def _announcement(codes: Select[str]) -> Select[Any, Any, str | None]:
    """PostgreSQL, one round trip: silence the change triggers for this transaction, queue
    ``scope:<year>:<codes>`` for its commit, and return the codes."""
    found = codes.subquery()
    listed = func.string_agg(found.c[0], ",")
    # no code at all: "scope:<year>:" means everything to every listener
    payload = literal(SCOPE_PREFIX) + bindparam("scope_year", type_=String) + ":" + func.coalesce(listed, "")
    return select(func.set_config("ntm.scoped", "on", True), func.pg_notify(CHANNEL, payload), listed).select_from(found)


async def scope_writes(session: AsyncSession, year: int, codes: Select[str], params: dict[str, Any]) -> None:
    """Declare, before writing, that this transaction changes only the figures for ``year`` and
    later years of the units that ``codes`` (a query of unit codes, a constant) selects: at its
    end it stales only those cached reports (app/core/cache.py, *Scoped writes*).

    The caller vouches that every row it writes feeds the reports of those units only. On
    PostgreSQL the change triggers are silenced for this transaction and the scope is announced
    instead, delivered to every worker at commit (dropped on rollback). On SQLite nothing is
    done: every commit moves ``data_version``, which cannot be scoped, so the whole cache goes."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    *_, listed = (await session.execute(_announcement(codes), {**params, "scope_year": str(year)})).one()
    if listed:
        session.info[SCOPE_KEY] = WriteScope(year, frozenset(listed.split(",")))


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_TURN_TIMER = "ntm_turn_timer"


def _give_turns_back_while_waiting(engine: AsyncEngine) -> None:
    """A statement that runs past ``admission.WAIT_SECONDS`` — waiting for a row lock, for SQLite's
    write lock (``BEGIN IMMEDIATE``), or on a long query — gives its request's turn back: the
    worker's thread is free meanwhile, and the requests queued behind it go on (README "Turns")."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _started(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info[_TURN_TIMER] = statement_started()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _ended(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if (timer := conn.info.pop(_TURN_TIMER, None)) is not None:
            timer.cancel()

    @event.listens_for(engine.sync_engine, "handle_error")
    def _failed(context: Any) -> None:
        connection = context.connection
        if connection is not None and (timer := connection.info.pop(_TURN_TIMER, None)) is not None:
            timer.cancel()


_FRESH = "ntm_fresh"  # a pool record's info: its connection was just opened and not used yet


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """Every pooled connection is tried with one ``SELECT 1`` when it is taken from the pool again,
    so a connection the server dropped meanwhile (a restart, ``pg_terminate_backend``, a failover)
    is replaced instead of failing the request. This is SQLAlchemy's pessimistic disconnect handling
    in one round trip: ``pool_pre_ping`` on asyncpg wraps its ping in BEGIN … ROLLBACK (three round
    trips, for pgbouncer's transaction mode); a query without parameters goes over the simple
    protocol: it prepares nothing and runs in no transaction, so it needs none.

    As with ``pool_pre_ping``: a connection just opened is not tried (it has just answered), and a
    failed ping replaces the connection and every pooled one older than it (``invalidate_pool``).
    So a second failure is the request's own, a database error answered 503, never the pool's
    "connection is closed" after two failed pings."""

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False):
            return
        try:
            await_(dbapi_connection.driver_connection.execute("SELECT 1"))
        except Exception as exc:  # any failure of the ping: the connection is not usable
            error = DisconnectionError(f"connection found unusable on checkout: {exc}")
            error.invalidate_pool = True
            raise error from exc


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        _install_sqlite_hooks(engine, settings.sqlite_busy_timeout_ms)
        return engine
    engine = create_async_engine(
        url,
        # the level every rule here is written for (row locks re-checked by a queued writer; a read's
        # statements each on their own snapshot, ``Database.__init__``), whatever the server's default
        isolation_level="READ COMMITTED",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # Short OLTP queries: the JIT's compile time (tens of ms) would cost more than it saves.
        connect_args={"server_settings": {"jit": "off", "plan_cache_mode": "force_custom_plan"}},
    )
    _ping_on_checkout(engine)
    return engine


T = TypeVar("T")


async def remembered(session: AsyncSession, key: Hashable, read: Callable[[], Awaitable[T]],
                     weight: Callable[[T], int] = lambda _value: 1) -> T:
    """What ``read()`` reads, kept by this worker for later read transactions while the reports'
    generation is unchanged (``ResponseCache.recall``): for reference data that only unscoped
    changes of the report tables can move — units and their tree, criteria sets — never for rows
    a scoped write changes (assessments, targets, recognitions, plan indicators).

    The value is labelled with the generation read when the transaction began, before its first
    statement (``MEMO_GENERATION_KEY``): what the transaction reads — its snapshot, the objects it
    loaded — is never older than that, so a change committed before ``read()`` (or before the
    transaction's first statement) leaves the value already stale. Write transactions always read
    (they lock what they read, and see their own uncommitted changes); so does a session with no
    cache (the command line, a bare session). Callers must not change what they get: the same
    objects go to every later reader, detached from their session (``Database.transaction``).
    ``weight``: about how many rows a value holds (what is kept is bounded in rows and entries)."""
    cache: ResponseCache | None = session.info.get(CACHE_KEY)
    generation: Generation | None = session.info.get(MEMO_GENERATION_KEY)
    if cache is None or generation is None:
        return await read()
    hit, value = cache.recall(key, generation)
    if hit:
        return value
    value = await read()
    cache.remember(key, generation, value, weight(value))
    return value


class Database:
    """The engine and its session factory."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_engine(settings)
        # two factories over one pool: write transactions carry WRITE_OPTION (SQLite's BEGIN IMMEDIATE);
        # both track the tables they write (``TrackedSession``), which decides what a commit stales
        self.sessionmaker = async_sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False, class_=AsyncSession,
            sync_session_class=TrackedSession,
        )
        # PostgreSQL: read transactions send no BEGIN and no COMMIT (two round trips of a cold
        # district summary's six). Under READ COMMITTED, the level of every write here
        # (``create_engine``), each statement sees what was committed before it began, inside a
        # transaction or not: a read sees nothing different. Write statements are refused in them
        # (``_on_execute``, ``_refuse_flush_in_reads``). SQLite keeps its read transactions: there
        # they hold one snapshot throughout.
        reads = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.dialect == "postgresql" else self.engine
        self.read_sessionmaker = async_sessionmaker(
            reads, expire_on_commit=False, class_=AsyncSession, sync_session_class=TrackedSession,
            info={READ_ONLY_KEY: True},
        )
        self._background: set[asyncio.Task[None]] = set()
        self.cache = ResponseCache(self.engine.url, max_bytes=settings.report_cache_max_bytes)
        watch_slow_queries(self.engine, settings.slow_query_ms)
        _give_turns_back_while_waiting(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back on any error.

        ``write=False`` is a read transaction: on SQLite it takes no write lock. A commit stales the
        cached answers fed by the tables it wrote (``TrackedSession``; for reports, only those within
        the scope declared with ``scope_writes`` if any) — also a commit that failed, which may have
        landed; a rollback changed nothing and leaves them."""
        factory = self.sessionmaker if write else self.read_sessionmaker
        async with factory() as session:
            session.info[CACHE_KEY] = self.cache
            session.info[AGGREGATES_KEY] = self.settings.report_aggregates
            session.info[MEMO_GENERATION_KEY] = None if write else await self.cache.generation(REPORTS)
            try:
                yield session
            except BaseException:
                if not write:  # what a read loaded stays loaded (``remembered`` may keep it): a
                    session.expunge_all()  # rollback would expire it, and detached, it could not reload
                await session.rollback()
                raise
            if not write:
                session.expunge_all()  # the same whatever the commit does (it may fail, and roll back)
            try:
                await session.commit()
            except BaseException:
                if written := session.info.get(WRITTEN_KEY):
                    self.cache.bump(topics_of(written), session.info.get(SCOPE_KEY))
                await session.rollback()
                raise
            afterwards = session.info.pop(AFTERWARDS_KEY, [])
        # after the transaction and its connection are given back, in the background: a store never
        # holds a read's snapshot nor a second connection, never delays the answer (on SQLite it may
        # wait for a long writer), and its failure never fails what was read
        for job in afterwards:
            task = asyncio.get_running_loop().create_task(self._afterwards(job))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _afterwards(self, job: Callable[[Database], Awaitable[None]]) -> None:
        try:
            await job(self)
        except Exception:
            _log.warning("deferred work failed (ignored)", exc_info=True)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the background work started so far (the tests; shutdown, bounded)."""
        pending = set(self._background)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()

    async def dispose(self) -> None:
        await self.settle(timeout=5)
        await self.cache.close()
        await self.engine.dispose()
