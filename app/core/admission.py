"""Admission: at most ``limit`` requests of one worker run at a time; the others wait their turn,
reads and writes each in the order they came, alternating while both wait.

Why. A worker is one thread. Left alone, asyncio shares it among every request in flight: each
time a request waits for the database, the others run. A request of many round trips (a write:
a dozen statements) then waits behind every other request at each of them, and under load its
answer time grows with the number of requests in flight, not with its own cost (measured in
``bench/README.md``, "Turns"). Letting only a few run at once, in the order they came, gives
each admitted request the worker nearly to itself: answer times even out (the slowest fall a
lot, the quickest rise a little), and throughput does not drop, since a few requests in flight
still fill the database's waits. Writes and reads wait in a queue each and take turns while
both wait: a write (the slow tenth of a mixed load) waits for at most one read per write ahead
of it instead of for every read that came first, and a burst of writes still leaves the reads
every other turn (measured against one queue for both, first come first served: the mixed
load's p99 10–15 % lower, ``bench/README.md``).

What is not held back: a request's turn is given back when its answer starts (a slow reader
never holds one), when one of its statements runs past ``WAIT_SECONDS`` (a write waiting for a
lock that an import holds, say, does not stall the requests queued behind it: it runs on
without a turn; the database layer calls ``statement_started``), and after ``turn_seconds`` in
any case; a body is read before the request queues (a slow sender never holds one;
bodies above ``prefetch_bytes``, or without a length, are not queued at all); and whatever
``exempt`` names (work done in threads, say, which does not compete for the worker's thread).
A request still waiting after ``listen_after`` listens for its client going away, and is
dropped, never run, if the client leaves before its turn comes (``GONE`` in its scope's state).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFETCH_BYTES = 64 * 1024
# a request still waiting for its turn after this listens for its client going away (then it never runs)
LISTEN_AFTER_SECONDS = 0.1
TURN_SECONDS = 0.5  # far above a request's own cost (milliseconds): a safety net for long ones
# A statement still running after this is waiting (for a lock another transaction holds, for
# SQLite's write lock, or on a long query): not for this worker's thread, so its turn is given
# back; the statements of a write take a millisecond or two each.
WAIT_SECONDS = 0.025

# set in the request's scope["state"] when its client went away while it waited: it never ran
GONE = "ntm_gone"

# The running request's "give my turn back" (None outside a turn), for the database layer.
_give_back: ContextVar[Callable[[], None] | None] = ContextVar("ntm_turn", default=None)


def statement_started() -> asyncio.TimerHandle | None:
    """Called as a statement starts: if it runs longer than ``WAIT_SECONDS``, the request's turn
    is given back (the request runs on without one). Cancel the handle when the statement ends."""
    give_back = _give_back.get()
    if give_back is None:
        return None
    return asyncio.get_running_loop().call_later(WAIT_SECONDS, give_back)


class Turns:
    """One worker's turns: at most ``limit`` holders at once (0: no limit); the others wait. Writes
    and reads wait in a queue each, first come first served within it; while both have waiters,
    turns alternate between them, so a write waits for at most one read per write ahead of it
    (not for every read that came before it), and reads keep at least every other turn however
    many writes come. Made per worker, used from its event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0  # requests waiting for a turn now (for /metrics)
        self._free = limit
        self._queues: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())
        self._last = 0  # the queue (0: reads, 1: writes) the last waiter handed a turn came from

    async def take(self, write: bool = False, gone: asyncio.Future[None] | None = None) -> Turns | None:
        """Wait for a turn; give it back with ``release()``. A waiter leaves its queue itself (as
        ``asyncio.Semaphore``'s do): ``release`` only hands the turn to the first one still waiting.
        With ``gone`` (the client going away): None, and no turn taken, if it is done first."""
        if self._free > 0:  # then nobody is waiting (a turn given back goes to a waiter first)
            self._free -= 1
            return self
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues[write]
        queue.append(waiter)
        self.waiting += 1

        def leave(_: asyncio.Future[None]) -> None:
            if not waiter.done():
                waiter.cancel()

        if gone is not None:
            gone.add_done_callback(leave)
        try:
            try:
                await waiter
            finally:
                queue.remove(waiter)
                self.waiting -= 1
                if gone is not None:
                    gone.remove_done_callback(leave)
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self.release()  # handed a turn, then cancelled before it could run: pass it on
            elif gone is not None and gone.done() and not _cancelling():
                return None  # the client went away (and nobody cancelled this request)
            raise
        return self

    @property
    def free(self) -> bool:
        """A turn can be taken now, without waiting."""
        return self._free > 0

    def release(self) -> None:
        """Give a turn back: to the next waiter (reads and writes in turn while both wait), or free."""
        # the first still waiting of each queue (the others are leaving: handed a turn, or cancelled)
        reads, writes = (next((w for w in queue if not w.done()), None) for queue in self._queues)
        if writes is not None and (reads is None or self._last == 0):
            self._last = 1
            writes.set_result(None)
        elif reads is not None:
            self._last = 0
            reads.set_result(None)
        else:
            self._free += 1


class AdmissionMiddleware:
    """Runs each request in a turn of ``turns``, except what ``exempt`` names and bodies that are
    large or have no length."""

    def __init__(self, app: ASGIApp, *, turns: Turns, exempt: Callable[[Scope], bool] = lambda scope: False,
                 prefetch_bytes: int = PREFETCH_BYTES, turn_seconds: float = TURN_SECONDS,
                 listen_after: float = LISTEN_AFTER_SECONDS) -> None:
        self.app, self.turns, self.exempt = app, turns, exempt
        self.prefetch_bytes, self.turn_seconds, self.listen_after = prefetch_bytes, turn_seconds, listen_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.turns.limit or self.exempt(scope):
            await self.app(scope, receive, send)
            return
        body = _body_length(scope)
        if body is None or body > self.prefetch_bytes:
            await self.app(scope, receive, send)  # a large or unbounded body: not queued
            return
        if body:
            receive = await _prefetched(receive)
        turns = self.turns
        write = scope["method"] not in ("GET", "HEAD")
        if turns.free:
            await turns.take(write=write)
        else:
            heard = await _turn_unless_gone(turns, write, receive, self.listen_after)
            if heard is None:  # the client went away while the request waited: it never runs
                scope.setdefault("state", {})[GONE] = True
                return
            receive = heard
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                overtime.cancel()
                turns.release()

        overtime = asyncio.get_running_loop().call_later(self.turn_seconds, give_back)

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()  # the work is done; sending the answer needs no turn
            await send(message)

        token = _give_back.set(give_back)
        try:
            await self.app(scope, receive, answering)
        finally:
            _give_back.reset(token)
            give_back()


def _cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


async def _turn_unless_gone(turns: Turns, write: bool, receive: Receive, listen_after: float) -> Receive | None:
    """Wait for a turn; after ``listen_after`` seconds of waiting, listen for the client going away
    too (``http.disconnect``: it closed the connection, gave up). Gone first: no turn is taken,
    None. The turn first: the ``receive`` to hand the application, which gives what was heard
    meanwhile (the request's empty body, say) before ``receive``'s own messages, as if nobody had
    listened. (Not from the start: listening takes a task, and under load most requests wait a
    few milliseconds, far less than a client waits before giving up.)"""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()
    heard: list[Message] = []
    failure: BaseException | None = None
    listener: asyncio.Task[None] | None = None

    async def listen() -> None:
        nonlocal failure
        try:
            while True:
                message = await receive()
                heard.append(message)
                if message["type"] == "http.disconnect":
                    gone.set_result(None)
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the application, where it belongs
            failure = exc

    def start_listening() -> None:
        nonlocal listener
        listener = asyncio.ensure_future(listen())

    taken: Turns | None = None
    timer = loop.call_later(listen_after, start_listening)
    try:
        taken = await turns.take(write=write, gone=gone)
    finally:
        timer.cancel()
        if listener is not None and not listener.done():
            listener.cancel()
            try:
                await listener
            except asyncio.CancelledError:
                if _cancelling():  # this request was cancelled meanwhile too, not only its listener
                    if taken is not None:
                        turns.release()
                    raise
    if taken is None:
        return None
    if listener is None:
        return receive
    return _replay(heard, failure, receive)


def _body_length(scope: Scope) -> int | None:
    """The body's declared length: 0 for none, None when it has no length (chunked)."""
    length: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            return None
    if length is None:
        return 0
    return int(length) if length.isdigit() else None


async def _prefetched(receive: Receive) -> Receive:
    """Read the whole body now (through ``receive``, with its limits and deadline) and hand it
    on unchanged: the messages as they came, then ``receive`` itself. An error while reading (a
    body too slow or too large) is handed on too, raised at the same point."""
    messages: list[Message] = []
    failure: BaseException | None = None
    try:
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
    except Exception as exc:  # noqa: BLE001 - re-raised to the application, where it belongs
        failure = exc
    return _replay(messages, failure, receive)


def _replay(messages: list[Message], failure: BaseException | None, receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` first, then raises ``failure`` (if any), then is ``receive``."""

    async def replay() -> Message:
        nonlocal failure
        if messages:
            return messages.pop(0)
        if failure is not None:
            error, failure = failure, None
            raise error
        return await receive()

    return replay
