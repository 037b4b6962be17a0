"""Single flight: concurrent callers asking for the same key share one computation.

When a cached report goes stale, every reader that arrives before it is computed again would
otherwise run the same query at once (a stampede: 32 readers of the national summary, each
running an ~80 ms query, gave a p99 of a second). With ``SingleFlight.run`` the first caller
of a key starts the computation and the others wait for its result.

* The computation runs in its own task: a caller that is cancelled (its client went away)
  stops waiting, and the computation goes on for the others (and for the cache, when the
  computation stores its result itself). When nobody waits any longer it still finishes.
* A failure is never kept: the next caller starts afresh. Callers already waiting get the
  failure when ``shared(exc)`` says it is the answer to the request itself (say a 404, which
  every caller would get); for any other failure (a lost connection, a timeout, a cancelled
  computation) each waiter tries again once, itself single-flighted, then gives up with its
  own error — so one bad run does not fail every waiter.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


def _never(_exc: BaseException) -> bool:
    return False


class SingleFlight(Generic[V]):
    """At most one running computation per key; concurrent callers of a key await the same one."""

    def __init__(self, *, shared: Callable[[BaseException], bool] = _never, retries: int = 1) -> None:
        self._flights: dict[Hashable, asyncio.Task[V]] = {}
        self._shared = shared
        self._retries = retries

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The result of ``compute()``, run once for all the callers of ``key`` meanwhile."""
        attempts = 0
        while True:
            task = self._flights.get(key)
            led = task is None
            if task is None:
                task = asyncio.ensure_future(compute())
                self._flights[key] = task
                task.add_done_callback(functools.partial(self._land, key))
            try:
                # shield: cancelling this caller must not cancel the computation the others await
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done() or not task.cancelled():
                    raise  # this caller was cancelled
                failure: BaseException = asyncio.CancelledError()  # the computation itself was
            except Exception as exc:
                failure = exc
            if led or self._shared(failure) or attempts >= self._retries:
                raise failure
            attempts += 1  # another caller's computation failed: try once more

    def _land(self, key: Hashable, task: asyncio.Task[V]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" when nobody waits
