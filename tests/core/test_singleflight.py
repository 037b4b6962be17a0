"""The single-flight primitive: one computation per key for concurrent callers, errors and
cancellation handled (no database)."""

from __future__ import annotations

import asyncio

import pytest

from app.core.singleflight import SingleFlight


class Boom(Exception):
    pass


class Answer(Exception):
    """An error that is the request's answer (shared with every waiter)."""


def counting(result: object = "value", *, delay: float = 0.05, fail: list[BaseException] | None = None):
    """A computation that counts its runs, sleeps, and raises the next queued failure if any."""
    runs = {"n": 0, "done": 0}

    async def compute():
        runs["n"] += 1
        await asyncio.sleep(delay)
        if fail:
            raise fail.pop(0)
        runs["done"] += 1
        return result

    return compute, runs


async def test_concurrent_callers_of_a_key_share_one_computation():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting()
    results = await asyncio.gather(*(flights.run("k", compute) for _ in range(32)))
    assert results == ["value"] * 32 and runs["n"] == 1 and len(flights) == 0


async def test_keys_are_independent_and_a_finished_flight_is_not_a_cache():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting()
    await asyncio.gather(flights.run("a", compute), flights.run("b", compute))
    assert runs["n"] == 2
    await flights.run("a", compute)
    assert runs["n"] == 3


async def test_a_shared_error_reaches_every_caller_once_and_is_not_kept():
    flights: SingleFlight[str] = SingleFlight(shared=lambda exc: isinstance(exc, Answer))
    compute, runs = counting(fail=[Answer("no such unit")])
    results = await asyncio.gather(*(flights.run("k", compute) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, Answer) for r in results) and runs["n"] == 1
    assert await flights.run("k", compute) == "value" and runs["n"] == 2  # not kept: computed again


async def test_another_failure_does_not_poison_the_waiters():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting(fail=[Boom("connection lost")])
    results = await asyncio.gather(*(flights.run("k", compute) for _ in range(5)), return_exceptions=True)
    assert isinstance(results[0], Boom)  # the caller whose computation failed gets its error
    assert results[1:] == ["value"] * 4  # the waiters retried, together: one more computation
    assert runs["n"] == 2


async def test_waiters_give_up_after_one_retry():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting(fail=[Boom("1"), Boom("2"), Boom("3")])
    results = await asyncio.gather(*(flights.run("k", compute) for _ in range(4)), return_exceptions=True)
    assert all(isinstance(r, Boom) for r in results) and runs["n"] == 2


async def test_a_cancelled_leader_leaves_no_waiter_hanging():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting(delay=0.1)
    leader = asyncio.ensure_future(flights.run("k", compute))
    await asyncio.sleep(0.01)
    waiters = [asyncio.ensure_future(flights.run("k", compute)) for _ in range(3)]
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 2) == ["value"] * 3
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert runs["n"] == 1


async def test_the_computation_finishes_when_every_caller_left():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting(delay=0.05)
    callers = [asyncio.ensure_future(flights.run("k", compute)) for _ in range(3)]
    await asyncio.sleep(0.01)
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    await asyncio.sleep(0.1)
    assert runs["done"] == 1 and len(flights) == 0  # it ran to the end (and could store its result)


async def test_a_cancelled_computation_makes_waiters_retry_not_hang():
    flights: SingleFlight[str] = SingleFlight()
    compute, runs = counting(fail=[asyncio.CancelledError()])
    results = await asyncio.wait_for(
        asyncio.gather(*(flights.run("k", compute) for _ in range(3)), return_exceptions=True), 2
    )
    assert isinstance(results[0], asyncio.CancelledError) and results[1:] == ["value"] * 2 and runs["n"] == 2
