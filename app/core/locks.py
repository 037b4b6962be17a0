"""Cluster-wide named locks (PostgreSQL advisory locks), held to the end of the transaction: for
work that touches many rows no single row lock can stand for, such as bulk writes of assessments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

# PostgreSQL keeps advisory locks on one bigint and on two integers apart: these take the second
# form under a class of their own, so no other lock (the sign-in throttle's, on a bigint hash of a
# username anybody can choose) ever shares a key with them, whatever the hashes
SPACE = 0x4E544D31  # "NTM1"
# in the order of their keys (not of their names: two names may share a key), in one statement
_LOCK = text(
    "SELECT pg_advisory_xact_lock(:space, k) FROM "
    "(SELECT DISTINCT hashtext(n) AS k FROM unnest(:names) AS n ORDER BY k OFFSET 0) AS keys"
).bindparams(bindparam("names", type_=ARRAY(String)))


async def hold(session: AsyncSession, names: Iterable[str]) -> None:
    """PostgreSQL: wait until no other transaction holds any of these names, then hold them until
    this transaction ends (taken in key order, so two holders never wait for each other crosswise;
    two names that share a key merely queue together). SQLite writers are serialised anyway:
    nothing to do."""
    wanted = sorted(set(names))
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(_LOCK, {"space": SPACE, "names": wanted})
