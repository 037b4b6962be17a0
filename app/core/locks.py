"""Cluster-wide named locks (PostgreSQL advisory locks), held to the end of the transaction: for
work that touches many rows no single row lock can stand for, such as bulk writes of assessments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


async def hold(session: AsyncSession, names: Iterable[str]) -> None:
    """PostgreSQL: wait until no other transaction holds any of these names, then hold them until
    this transaction ends (taken in sorted order, so two holders never wait for each other
    crosswise; two names may share a hash: they then merely queue together). SQLite writers are
    serialised anyway: nothing to do."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        await session.execute(_LOCK, {"name": name})
