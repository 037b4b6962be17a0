"""Which tables' changes stale which cached answers: the one list the code and the migrations share.

Each worker keeps computed reports, and the accounts it found enabled, until a change could
have moved them (``app/core/cache.py``). A change is announced per *topic*:

* ``reports`` — the tables the summaries, flags and trends are computed from;
* ``accounts`` — users and API keys (a disabled account or a revoked key must stop at once).

Nothing else announces anything: sign-ins, login failures, the audit trail, import
idempotency records leave every cached answer in place.

**Adding a table** that feeds the reports: add one line to ``WATCHED`` below, and in the
migration that creates the table (or a new one) call ``watch(op, "the_table")``. The test
``tests/reports/test_invalidation.py`` checks that the database at head watches exactly the
tables listed here, on both databases.

How a change is announced, whoever makes it (the API, another worker, ``psql``):

* PostgreSQL: a statement trigger ``ntm_notify_<table>`` sends ``NOTIFY ntm_data_changed``
  with the table's name at commit; the listener maps the name to its topic.
* SQLite: row triggers ``ntm_change_<table>_<ins|upd|del>`` write a fresh random token into
  the topic's row of ``ntm_change`` (but see ``FOLLOWS_PARENT``); workers read the tokens whenever ``PRAGMA data_version``
  says another connection committed (any commit), and a topic is stale only when its token
  moved. Random, not a counter: a token never comes back, even if the row is deleted.
"""

from __future__ import annotations

from typing import Any

REPORTS = "reports"
ACCOUNTS = "accounts"
TOPICS = (REPORTS, ACCOUNTS)

# table → the topic its changes stale
WATCHED: dict[str, str] = {
    "admin_unit": REPORTS,
    "unit_lineage": REPORTS,
    "criteria_set": REPORTS,
    "criterion": REPORTS,
    "indicator": REPORTS,
    "assessment": REPORTS,
    "assessment_criterion": REPORTS,
    "recognition": REPORTS,
    "target": REPORTS,
    "app_user": ACCOUNTS,
    "api_key": ACCOUNTS,
}

# SQLite only: tables whose rows never change without their parent row changing in the same
# transaction (an assessment's criteria: its met bits, count and version move with them) get no
# row trigger — 190,000 criterion rows of a national import would each pay one (measured: the
# bulk insert took 2.3x as long). Their parent's trigger announces the change.
FOLLOWS_PARENT: dict[str, str] = {"assessment_criterion": "assessment"}

CHANGE_TABLE = "ntm_change"  # SQLite: one row per topic, (topic, token)
CHANNEL = "ntm_data_changed"  # PostgreSQL: NOTIFY channel, payload a table name (or a scope)


def topics_of(tables: set[str] | frozenset[str]) -> set[str]:
    """The topics a transaction that wrote these tables stales."""
    return {WATCHED[t] for t in tables if t in WATCHED}


def topic_of_payload(payload: str) -> set[str]:
    """PostgreSQL: the topics a notification's payload (a table name) stales; every topic for a
    payload that is not a watched table (someone else's NOTIFY on our channel: play safe)."""
    topic = WATCHED.get(payload)
    return {topic} if topic is not None else set(TOPICS)


# ---- DDL, for the migrations ------------------------------------------------------------------

_SQLITE_OPS = {"ins": "INSERT", "upd": "UPDATE", "del": "DELETE"}


def _ddl_watch(dialect: str, table: str) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS ntm_notify_{table} ON {table}",
            f"CREATE TRIGGER ntm_notify_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ntm_notify_change()",
        ]
    if table in FOLLOWS_PARENT:
        return _ddl_unwatch(dialect, table)
    topic = WATCHED[table]
    out = []
    for short, op in _SQLITE_OPS.items():
        out.append(f"DROP TRIGGER IF EXISTS ntm_change_{table}_{short}")
        out.append(
            f"CREATE TRIGGER ntm_change_{table}_{short} AFTER {op} ON {table} BEGIN "
            f"INSERT INTO {CHANGE_TABLE} (topic, token) VALUES ('{topic}', random()) "
            "ON CONFLICT (topic) DO UPDATE SET token = excluded.token; END"
        )
    return out


def _ddl_unwatch(dialect: str, table: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS ntm_notify_{table} ON {table}"]
    return [f"DROP TRIGGER IF EXISTS ntm_change_{table}_{short}" for short in _SQLITE_OPS]


def watch(op: Any, table: str) -> None:
    """In a migration: announce the table's changes under its topic in ``WATCHED``."""
    for statement in _ddl_watch(op.get_bind().dialect.name, table):
        op.execute(statement)


def unwatch(op: Any, table: str) -> None:
    """In a migration: stop announcing the table's changes."""
    for statement in _ddl_unwatch(op.get_bind().dialect.name, table):
        op.execute(statement)


def expected_in_database(dialect: str) -> set[str]:
    """The tables that should carry a change trigger on this database."""
    return set(WATCHED) if dialect == "postgresql" else set(WATCHED) - set(FOLLOWS_PARENT)


def watched_in_database_sql(dialect: str) -> str:
    """A query listing the tables whose changes the database announces (for the tests and checks)."""
    if dialect == "postgresql":
        return ("SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE 'ntm\\_notify\\_%' AND NOT t.tgisinternal")
    return "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ntm\\_change\\_%' ESCAPE '\\'"
