"""A per-process cache of computed report responses, invalidated when their data changes.

Summaries, flags and trends are read far more often than the data behind them changes.
Each worker keeps the JSON it computed, tagged with the *generation* of the report data; an
entry is served only while that generation is unchanged. Only changes to the tables listed in
``app/core/changes.py`` (topic ``reports``) move it: a sign-in, a login failure, a user or an
API key, the audit trail, an import's idempotency record leave every cached report in place.
A second topic, ``accounts`` (users, API keys), moves the generation the remembered principals
are tagged with (``note_active``/``active``). A generation moves:

* on SQLite, when the topic's token in ``ntm_change`` moves: triggers on the watched tables
  write a fresh random token at each change, in the writer's transaction; it is read again
  whenever ``PRAGMA data_version`` says another connection (in this process or another) has
  committed anything, so every writer is seen at once;
* on PostgreSQL, when a ``ntm_data_changed`` notification naming a table of the topic arrives:
  statement triggers on the watched tables send it at commit, whoever wrote — the API,
  another worker, ``psql``. While the listening connection is down nothing is cached.

Commits made through this process also move it at once (``bump``, for the topics of the
tables the transaction wrote: ``app.core.db``), so a client always reads its own writes.
Across PostgreSQL workers an entry can outlive a commit by the time the notification takes
to arrive (well under a millisecond on one host).

**Scoped writes.** Each entry is tagged with what its report is about: a unit, and the last
year it covers (a summary's year; a trend's ``to``, or every year). A write that knows which
figures it can move declares its scope (``app.core.db.scope_writes``): a year and units — an
assessment of year Y moves the figures of years Y and later (carried forward) of the commune
and every unit ever above it; a target of year Y, those of its unit and the units above. It
then stales only entries about those units covering year Y or later, so a commune's assessment
leaves every other district's reports, and every report of earlier years, in place. On
PostgreSQL the transaction silences the triggers (``SET LOCAL ntm.scoped``) and announces
``scope:<year>:<code>,<code>…`` itself, at its commit; any other payload (other tables, plain
SQL, imports) still moves the whole generation. On SQLite the token cannot tell which rows
changed, so every change of a watched table stays global there.

**Reference data.** Read transactions also keep what only an unscoped change can move — units,
their tree, the criteria sets in force — at the reports' generation (``recall``/``remember``,
used through ``app.core.db.remembered``): the first read after such a change reads it again.

**Single flight.** Concurrent misses of one report in one worker run one computation; the
others wait for it (``SingleFlight``, used by the report routes).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.engine import URL
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.changes import ACCOUNTS, CHANGE_TABLE, CHANNEL, REPORTS, TOPICS, topic_of_payload
from app.core.errors import AppError
from app.core.singleflight import SingleFlight

log = logging.getLogger("ntm.cache")

SCOPE_PREFIX = "scope:"
# of one topic: (local commits, remote commits on PostgreSQL or the SQLite token): moves on every
# unscoped change of the topic's tables
Generation = tuple[int, int | None]
# a generation and the count of scoped commits that touched what the entry is about
Stamp = tuple[int, int | None, int]
# what a cached report is about: its unit's code and the last year it covers (None: every year)
Subject = tuple[str, int | None]


@dataclass(frozen=True)
class WriteScope:
    """What a write can change: the figures of these units for ``year`` and every later year."""

    year: int
    codes: frozenset[str]


def parse_scope(payload: str) -> WriteScope | None:
    """The scope of a scoped notification; None for any other payload (a global change)."""
    if not payload.startswith(SCOPE_PREFIX):
        return None
    year, _, listed = payload[len(SCOPE_PREFIX):].partition(":")
    codes = frozenset(code for code in listed.split(",") if code)
    if not year.isdigit() or not codes:
        return None
    return WriteScope(int(year), codes)


class ResponseCache:
    """An LRU map of key → (stamp, body), each entry stamped for what it is about (unit, last year)."""

    def __init__(self, url: URL, *, max_entries: int = 4096, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.url = url
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # bodies kept, in all; the least recently used go first
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Stamp, bytes]] = OrderedDict()
        self._scoped: dict[str, dict[int, int]] = {}  # unit → {year written: commits}
        self._active: dict[Hashable, tuple[Generation, Any]] = {}
        self._memo: dict[Hashable, tuple[Generation, Any, int]] = {}  # reference data, see ``recall``
        self.max_memo = 20_000  # entries
        self.max_memo_weight = 100_000  # rows, in all (the national tree of one year: ~1,500)
        self._memo_weight = 0
        self._local = dict.fromkeys(TOPICS, 0)
        self._remote = dict.fromkeys(TOPICS, 0)
        self._sqlite: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._tokens: dict[str, int] = {}
        self._pg: Any = None  # asyncpg connection listening for changes
        self._pg_retry_at = 0.0
        self._lock = asyncio.Lock()
        # concurrent misses of one entry (key and stamp) compute once; an AppError (404, 422) is
        # every caller's answer, any other failure is retried by the waiters
        self.flights: SingleFlight[bytes] = SingleFlight(shared=lambda exc: isinstance(exc, AppError))
        self.enabled = url.get_backend_name() in ("sqlite", "postgresql") and url.database not in (None, "", ":memory:")

    def note_active(self, username: Hashable, generation: Generation | None, principal: Any) -> None:
        """The user (a token's subject: username and token generation) was found enabled in the
        database, as ``principal``, at this generation."""
        if generation is not None:
            if len(self._active) > 10_000:
                self._active.clear()
            self._active[username] = (generation, principal)

    def active(self, username: Hashable, generation: Generation | None) -> Any:
        """The principal last found for the user, while no change of users or API keys (which could
        have disabled the account or changed its role) has happened since; else None."""
        found = self._active.get(username)
        return found[1] if generation is not None and found is not None and found[0] == generation else None

    def bump(self, topics: Iterable[str] = (REPORTS,), scope: WriteScope | None = None) -> None:
        """A commit through this process changed these topics' tables: what it could have changed
        is stale — for reports, the entries within ``scope``, or (no scope) every one."""
        for topic in topics:
            if topic == REPORTS and scope is not None:
                self._bump_scope(scope)
            else:
                self._local[topic] += 1

    def _bump_scope(self, scope: WriteScope) -> None:
        for code in scope.codes:
            years = self._scoped.setdefault(code, {})
            years[scope.year] = years.get(scope.year, 0) + 1

    def _touched(self, subject: Subject) -> int:
        """Scoped commits so far that could have changed a report about ``subject``."""
        code, last_year = subject
        years = self._scoped.get(code)
        if not years:
            return 0
        return sum(count for year, count in years.items() if last_year is None or year <= last_year)

    async def stamp(self, subject: Subject) -> Stamp | None:
        """What an entry about ``subject`` computed from now on is tagged with; None: do not cache."""
        generation = await self.generation(REPORTS)
        return None if generation is None else (*generation, self._touched(subject))

    async def generation(self, topic: str) -> Generation | None:
        """The topic's current generation, or None when changes cannot be seen (then nothing is cached)."""
        if not self.enabled:
            return None
        if self.url.get_backend_name() == "sqlite":
            return self._sqlite_generation(topic)
        return await self._pg_generation(topic)

    def __len__(self) -> int:
        return len(self._entries)

    # ---- reference data (``app.core.db.remembered``) --------------------------------------

    def recall(self, key: Hashable, generation: Generation) -> tuple[bool, Any]:
        """(True, value) when ``value`` was remembered under ``key`` at this generation; else (False, None)."""
        found = self._memo.get(key)
        if found is None or found[0] != generation:
            return False, None
        return True, found[1]

    def remember(self, key: Hashable, generation: Generation, value: Any, weight: int = 1) -> None:
        """Keep ``value`` (``weight``: about how many rows it holds). Bounded in entries and in rows:
        past either bound everything kept starts again (what is read then costs what it cost
        without the memo), and one value over a tenth of the rows is not kept at all."""
        if weight > self.max_memo_weight // 10:
            return
        old = self._memo.get(key)
        if old is not None:
            self._memo_weight -= old[2]
        if len(self._memo) >= self.max_memo or self._memo_weight + weight > self.max_memo_weight:
            self._memo.clear()
            self._memo_weight = 0
        self._memo[key] = (generation, value, weight)
        self._memo_weight += weight

    def get(self, key: Hashable, stamp: Stamp | None) -> bytes | None:
        if stamp is None:
            return None
        found = self._entries.get(key)
        if found is None or found[0] != stamp:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, stamp: Stamp | None, body: bytes) -> None:
        """Keep ``body`` under ``key``, with the stamp read *before* it was computed (a commit
        meanwhile leaves the entry already stale)."""
        if stamp is None or len(body) > self.max_bytes // 8:  # one answer never takes much of the room
            return
        old = self._entries.get(key)
        if old is not None:
            self.bytes -= len(old[1])
        self._entries[key] = (stamp, body)
        self.bytes += len(body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= len(dropped)

    # ---- SQLite --------------------------------------------------------------------------

    def _sqlite_generation(self, topic: str) -> Generation | None:
        try:
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(
                    f"file:{self.url.database}?mode=rw", uri=True, check_same_thread=False, isolation_level=None
                )
                self._data_version = None
            # data_version moves on any commit by another connection (cheap, no read transaction);
            # only then are the tokens read again (read after it: never older than it)
            (version,) = self._sqlite.execute("PRAGMA data_version").fetchone()
            if version != self._data_version:
                self._tokens = dict(self._sqlite.execute(f"SELECT topic, token FROM {CHANGE_TABLE}").fetchall())
                self._data_version = version
        except sqlite3.Error as exc:
            log.warning("report cache off: cannot read the SQLite change tokens: %s", exc)
            if self._sqlite is not None:
                self._sqlite.close()
            self._sqlite = None
            return None
        return (self._local[topic], self._tokens.get(topic))

    # ---- PostgreSQL ----------------------------------------------------------------------

    async def _pg_generation(self, topic: str) -> Generation | None:
        if self._pg is None or self._pg.is_closed():
            if time.monotonic() < self._pg_retry_at:
                return None
            async with self._lock:
                if self._pg is None or self._pg.is_closed():
                    await self._pg_listen()
            if self._pg is None:
                return None
        return (self._local[topic], self._remote[topic])

    async def _pg_listen(self) -> None:
        import asyncpg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            await conn.add_listener(CHANNEL, self._on_change)
            conn.add_termination_listener(self._on_lost)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("report cache off: cannot listen for changes: %s", exc)
            self._pg = None
            self._pg_retry_at = time.monotonic() + 5
            return
        self._pg = conn
        # anything may have changed while nobody listened
        self._entries.clear()
        self.bytes = 0
        self._moved(TOPICS)

    def _moved(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self._remote[topic] += 1

    def _on_change(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        scope = parse_scope(payload)
        if scope is None:
            self._moved(topic_of_payload(payload))
        else:
            self._bump_scope(scope)

    def _on_lost(self, *_args: Any) -> None:
        log.warning("report cache off: change listener connection lost")
        self._pg = None
        self._moved(TOPICS)

    async def close(self) -> None:
        if self._pg is not None and not self._pg.is_closed():
            self._pg.remove_termination_listener(self._on_lost)
            await self._pg.close()
        self._pg = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


def cache_key(path: str, query_string: bytes, known: frozenset[str] | None = None) -> Hashable:
    """The same request, whatever the order of its query parameters; with ``known``, parameters
    the route does not read are left out (they change nothing in the answer, so junk parameters
    neither multiply entries nor reach another answer). Parameters are ordered by name only:
    a name given twice keeps the order of its values, which decides the answer (the last wins),
    so ``kind=a&kind=b`` and ``kind=b&kind=a`` are two entries."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return (path, tuple(sorted((p for p in pairs if known is None or p[0] in known), key=lambda p: p[0])))


def wants_fresh(cache_control: str) -> bool:
    return "no-cache" in cache_control.lower()


class CachedReportsMiddleware:
    """Answers a GET of a cached report straight from the worker's cache, before routing.

    Only responses the report routes computed and stored are ever served, so a hit is a
    request that was valid when first answered; misses go on to the routes.
    """

    def __init__(
        self, app: ASGIApp, *, subject: Callable[[str, bytes], Subject | None],
        token_user: Callable[[Any, str], Any], key: Callable[[str, bytes], Hashable | None] = cache_key,
    ) -> None:
        """``subject``: what the report at a path and query string is about; None: not a cached
        report. ``key``: its cache key (None: not known yet, go through routing). ``token_user``:
        whom a bearer token was issued to (raising ``AppError`` when it is not valid) — passed in
        by the application, so that core imports no domain package."""
        self.app = app
        self.subject = subject
        self.key = key
        self.token_user = token_user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http" and scope["method"] == "GET"
            and (subject := self.subject(scope["path"], scope["query_string"])) is not None
        ):
            cache: ResponseCache = scope["app"].state.db.cache
            headers = dict(scope["headers"])
            if not wants_fresh(headers.get(b"cache-control", b"").decode("latin-1")):
                stamp = await cache.stamp(subject)
                key = self.key(scope["path"], scope["query_string"])
                body = cache.get(key, stamp) if key is not None else None
                if body is not None and self._may_read(
                    scope["app"].state.settings, headers, cache, await cache.generation(ACCOUNTS)
                ):
                    await send({
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-cache", b"hit"),
                        ],
                    })
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def _may_read(
        self, settings: Any, headers: dict[bytes, bytes], cache: ResponseCache, generation: Generation | None
    ) -> bool:
        """Reads are open, or the bearer token is good and its user was found enabled since the
        last change of any account. Anything else (API keys, doubtful tokens) goes the full way through routing."""
        if settings.public_read:
            return True
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        from app.core.errors import AppError

        try:
            subject = self.token_user(settings, token.strip())
        except AppError:
            return False
        return cache.active(subject, generation) is not None
