"""Admission: at most N requests of a worker at once, the rest in arrival order (reads and writes
each, alternating while both wait); a turn is given back when the answer starts, on an error and
on a cancelled wait; bodies are read before a request queues; exempt requests and bodies without
a length never queue (no database)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.core import admission
from app.core.admission import AdmissionMiddleware, Turns
from app.main import runs_off_the_loop

pytestmark = pytest.mark.pure


class Recorder:
    """An ASGI app that logs when each request starts and ends, and waits for the test's go."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.bodies: dict[str, bytes] = {}
        self.after_start: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def __call__(self, scope, receive, send) -> None:
        name = scope["path"].strip("/")
        self.log.append(f"start {name}")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies[name] = body
        if name.startswith("boom"):
            self.log.append(f"end {name}")
            raise RuntimeError("boom")
        await self.gate(name).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        self.log.append(f"answered {name}")
        if name in self.after_start:  # still streaming its body after the answer started
            await self.after_start[name].wait()
        await send({"type": "http.response.body", "body": name.encode()})
        self.log.append(f"end {name}")


def client(app, limit: int, **kwargs) -> tuple[httpx.AsyncClient, Turns]:
    turns = Turns(limit)
    wrapped = AdmissionMiddleware(app, turns=turns, **kwargs)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t"), turns


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def in_order(*requests) -> list[asyncio.Task]:
    """Send the requests one after the other, each arrived (and queued, or started) before the next."""
    tasks = []
    for request in requests:
        tasks.append(asyncio.create_task(request))
        await settle()
    return tasks


async def test_at_most_limit_run_and_the_others_wait_in_arrival_order():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, turns = client(app, 2)
        async with http:
            tasks = []
            for name in ("a", "b", "c", "d", "e"):
                tasks.append(asyncio.create_task(http.get(f"/{name}")))
                await settle()
            assert app.log == ["start a", "start b"] and turns.waiting == 3
            for name in ("b", "a", "c", "d", "e"):
                app.gate(name).set()
                await settle()
            responses = await asyncio.gather(*tasks)
        assert [r.text for r in responses] == ["a", "b", "c", "d", "e"]
        starts = [e for e in app.log if e.startswith("start")]
        assert starts == ["start a", "start b", "start c", "start d", "start e"]
        # c waited for b's turn (b ended first), d for a's
        assert app.log.index("start c") > app.log.index("answered b")
        assert app.log.index("start d") > app.log.index("answered a")
        assert turns.waiting == 0


async def test_a_turn_is_given_back_when_the_answer_starts_not_when_its_body_ends():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        app.after_start["slow"] = asyncio.Event()
        http, _ = client(app, 1)
        async with http:
            slow, nxt = await in_order(http.get("/slow"), http.get("/next"))
            assert "start next" not in app.log
            app.gate("slow").set()
            await settle()
            assert app.log[:3] == ["start slow", "answered slow", "start next"]  # slow still streaming
            app.gate("next").set()
            assert (await nxt).text == "next"
            app.after_start["slow"].set()
            assert (await slow).text == "slow"


async def test_a_request_that_runs_past_its_turn_gives_it_back_and_runs_on():
    """One waiting for a lock another holds (an import's, say) does not stall the worker's others."""
    async with asyncio.timeout(5):
        app = Recorder()
        http, _ = client(app, 1, turn_seconds=0.05)
        async with http:
            stuck, nxt = await in_order(http.get("/stuck"), http.get("/next"))
            assert "start next" not in app.log
            await asyncio.sleep(0.1)
            assert app.log == ["start stuck", "start next"]  # stuck still running, without a turn
            app.gate("next").set()
            assert (await nxt).text == "next"
            app.gate("stuck").set()
            assert (await stuck).text == "stuck"
            # the turn stuck gave back is not given back twice: one turn still, not two
            again = [asyncio.create_task(http.get(f"/{name}")) for name in ("a", "b")]
            await settle()
            assert app.log[-1] == "start a" and "start b" not in app.log
            app.gate("a").set()
            app.gate("b").set()
            await asyncio.gather(*again)


async def test_an_error_gives_the_turn_back():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, turns = client(app, 1)
        async with http:
            with pytest.raises(RuntimeError):
                await http.get("/boom")
            app.gate("after").set()
            assert (await http.get("/after")).text == "after"
        assert turns.waiting == 0


async def test_a_request_cancelled_while_waiting_leaves_no_turn_taken():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, turns = client(app, 1)
        async with http:
            first, gone = await in_order(http.get("/first"), http.get("/gone"))
            assert turns.waiting == 1
            gone.cancel()
            await settle()
            assert turns.waiting == 0
            app.gate("first").set()
            await first
            app.gate("later").set()
            assert (await http.get("/later")).text == "later"
        assert "start gone" not in app.log


async def test_a_body_is_read_before_the_request_queues_and_handed_on_unchanged():
    """A slow sender holds no turn: while its body trickles in, another request runs."""
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, _ = client(app, 1)
        sent = asyncio.Event()

        async def trickle():
            yield b'{"criteria": '
            await sent.wait()
            yield b"[1, 2, 3]}"

        async with http:
            slow = asyncio.create_task(http.put("/slow", content=trickle(), headers={"Content-Length": "23"}))
            await settle()
            app.gate("quick").set()
            assert (await http.put("/quick", content=b"{}")).text == "quick"  # a write: the same queue
            assert app.log[0] == "start quick"
            sent.set()
            app.gate("slow").set()
            assert (await slow).text == "slow"
        assert app.bodies["slow"] == b'{"criteria": [1, 2, 3]}'


async def test_a_failure_while_reading_the_body_is_raised_to_the_application():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        seen: list[str] = []

        async def app(scope, receive, send):
            try:
                await receive()
            except TimeoutError:
                seen.append("timeout")
            await send({"type": "http.response.start", "status": 408, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        async def failing_receive():
            raise TimeoutError

        turns = Turns(1)
        wrapped = AdmissionMiddleware(app, turns=turns)
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": "/x", "method": "PUT", "headers": [(b"content-length", b"10")]}
        await wrapped(scope, failing_receive, send)
        assert seen == ["timeout"] and sent[0]["status"] == 408


async def test_exempt_requests_large_bodies_and_bodies_without_a_length_never_queue():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, turns = client(app, 1, exempt=lambda scope: scope["path"] == "/metrics", prefetch_bytes=10)
        async with http:
            held = [asyncio.create_task(http.get("/held")), asyncio.create_task(http.get("/held-w"))]
            await settle()
            for name in ("metrics", "large", "chunked"):
                app.gate(name).set()
            assert (await http.get("/metrics")).text == "metrics"
            assert (await http.put("/large", content=b"x" * 11)).text == "large"

            async def chunks():
                yield b"abc"

            assert (await http.put("/chunked", content=chunks())).text == "chunked"  # transfer-encoding: chunked
            assert turns.waiting == 1 and "start held" in app.log and "start held-w" not in app.log
            assert "end held" not in app.log and "end held-w" not in app.log
            app.gate("held").set()
            app.gate("held-w").set()
            await asyncio.gather(*held)


async def test_a_read_waits_while_a_write_holds_the_turn():
    """Reads and writes share the turns: a read that came while a write runs waits for it (with
    turns of their own, a write shared the worker with the reads again; bench/README "Turns")."""
    async with asyncio.timeout(5):
        app = Recorder()
        http, turns = client(app, 1)
        async with http:
            write, read = await in_order(http.put("/w1", content=b"{}"), http.get("/r1"))
            assert app.log == ["start w1"] and turns.waiting == 1
            app.gate("w1").set()
            app.gate("r1").set()
            await asyncio.gather(write, read)
        assert app.log.index("start r1") > app.log.index("answered w1")


async def test_a_statement_that_waits_gives_the_turn_back():
    """``statement_started`` (the database layer calls it): a statement still running after
    WAIT_SECONDS (waiting for a lock, say) gives its request's turn back; outside a turn, nothing."""
    assert admission.statement_started() is None
    async with asyncio.timeout(5):
        app = Recorder()
        timers: list[asyncio.TimerHandle | None] = []

        async def waiting_on_a_lock(scope, receive, send):
            if scope["path"] == "/locked":
                timers.append(admission.statement_started())
            await app(scope, receive, send)

        http, _ = client(waiting_on_a_lock, 1, turn_seconds=60)
        async with http:
            locked, quick = await in_order(http.put("/locked", content=b"{}"), http.put("/quick", content=b"{}"))
            assert "start quick" not in app.log
            app.gate("quick").set()
            assert (await quick).text == "quick"  # after WAIT_SECONDS, not after the 60 s of a turn
            assert app.log[:2] == ["start locked", "start quick"] and "answered locked" not in app.log
            app.gate("locked").set()
            await locked
        assert isinstance(timers[0], asyncio.TimerHandle)


async def test_no_limit_queues_nothing():
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, _ = client(app, 0)
        async with http:
            tasks = [asyncio.create_task(http.get(f"/{n}")) for n in "abcd"]
            await settle()
            assert sorted(app.log) == ["start a", "start b", "start c", "start d"]
            for n in "abcd":
                app.gate(n).set()
            await asyncio.gather(*tasks)


@pytest.mark.parametrize(("path", "content_type", "exempt"), [
    ("/api/v1/units/084/summary", b"", False),
    ("/api/v1/communes/02812/assessments/2021", b"application/json", False),
    ("/api/v1/auth/token", b"application/x-www-form-urlencoded", True),
    ("/login", b"Application/X-WWW-Form-Urlencoded; charset=utf-8", True),
    ("/api/v1/imports/assessments", b"multipart/form-data; boundary=x", True),
    ("/api/v1/units/084/report.xlsx", b"", True),
    ("/api/v1/units/084/report.csv", b"", True),
    ("/api/v1/units/084/trend.svg", b"", True),
    ("/metrics", b"", True),
    ("/healthz", b"", True),
    ("/static/dashboard.css", b"", True),
    ("/readyz", b"", True),
])
def test_what_runs_off_the_loop_never_waits_for_a_turn(path, content_type, exempt):
    headers = [(b"content-type", content_type)] if content_type else []
    assert runs_off_the_loop({"type": "http", "path": path, "headers": headers}) is exempt


async def _served(turns: Turns, queued: list[tuple[str, bool]]) -> list[str]:
    """With the one turn held: queue these (name, is a write) in order, then hand the turn on until
    every one has had it; the order they got it in."""
    order: list[str] = []

    async def one(name: str, write: bool) -> None:
        await turns.take(write=write)
        order.append(name)

    tasks = await in_order(*(one(name, write) for name, write in queued))
    for _ in queued:
        turns.release()
        await settle()
    await asyncio.gather(*tasks)
    turns.release()
    return order


@pytest.mark.parametrize(("queued", "order"), [
    # a write waits for at most one read per write ahead of it, not for every read that came first
    ("r1 r2 r3 w1 w2", "w1 r1 w2 r2 r3"),
    # a burst of writes leaves the reads every other turn
    ("w1 w2 w3 r1 r2", "w1 r1 w2 r2 w3"),
])
async def test_while_reads_and_writes_wait_they_take_turns(queued: str, order: str):
    async with asyncio.timeout(5):
        turns = Turns(1)
        await turns.take()
        served = await _served(turns, [(name, name.startswith("w")) for name in queued.split()])
        assert served == order.split()
        assert turns.waiting == 0 and await asyncio.wait_for(turns.take(), 1) is turns  # the turn is free again


async def test_a_turn_handed_to_a_waiter_cancelled_before_it_ran_goes_to_the_next():
    async with asyncio.timeout(5):
        turns = Turns(1)
        await turns.take()
        first, second = await in_order(turns.take(), turns.take())
        turns.release()  # handed to the first waiter...
        first.cancel()  # ...which is cancelled before it runs
        await settle()
        assert first.cancelled() and second.done() and turns.waiting == 0
        turns.release()
        assert await asyncio.wait_for(turns.take(), 1) is turns


async def test_a_waiter_cancelled_as_the_turn_is_handed_on_is_skipped():
    """A waiter cancelled (its client gone) in the same instant as a turn is given back: the turn
    goes to the next waiter, and the cancelled one ends cancelled (no error of the queue's own)."""
    async with asyncio.timeout(5):
        turns = Turns(1)
        await turns.take()
        gone, next_ = await in_order(turns.take(), turns.take())
        gone.cancel()  # cancelled now; it learns so only when it next runs
        turns.release()
        await settle()
        assert gone.cancelled() and next_.done() and turns.waiting == 0
        turns.release()
        assert await asyncio.wait_for(turns.take(), 1) is turns


@pytest.mark.parametrize("seed", range(40))
async def test_no_turn_is_lost_or_doubled_whatever_is_cancelled_when(seed: int):
    """Random requests, reads and writes, some cancelled while they wait, as a turn is handed on
    or while they hold one: never more than the limit at once, and afterwards every turn is free."""
    import random

    rng = random.Random(seed)
    limit = rng.randint(1, 3)
    turns = Turns(limit)
    holding = 0
    most = 0

    async def request(pause: int) -> None:
        nonlocal holding, most
        await turns.take(write=rng.random() < 0.3)
        holding += 1
        most = max(most, holding)
        try:
            for _ in range(pause):
                await asyncio.sleep(0)
        finally:
            holding -= 1
            turns.release()

    async with asyncio.timeout(5):
        tasks = [asyncio.create_task(request(rng.randint(0, 5))) for _ in range(30)]
        for _ in range(60):
            await asyncio.sleep(0)
            if rng.random() < 0.3:
                rng.choice(tasks).cancel()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(e is None or isinstance(e, asyncio.CancelledError) for e in ended), ended
    assert most <= limit and holding == 0 and turns.waiting == 0
    for _ in range(limit):  # every turn is free again, and no more than those
        await asyncio.wait_for(turns.take(), 1)
    extra = asyncio.create_task(turns.take())
    await settle()
    assert not extra.done()
    extra.cancel()


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


def _leaving(left: asyncio.Event):
    """A client's ``receive``: its (empty) body, then ``http.disconnect`` once ``left`` is set."""
    told: list[bool] = []

    async def receive():
        if not told:
            told.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    return receive


async def test_a_request_whose_client_leaves_while_it_waits_never_runs():
    """Under load, a client that gave up (closed the connection) while its request waited for a
    turn costs nothing more: the request is dropped, no turn is lost, the others run as before."""
    async with asyncio.timeout(5):  # a broken admission fails here instead of hanging the suite
        app = Recorder()
        http, turns = client(app, 1)
        middleware = AdmissionMiddleware(app, turns=turns, listen_after=0)
        left = asyncio.Event()
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        gone_scope = _scope("/gone")
        async with http:
            first, queued = await in_order(http.get("/first"), http.put("/queued", content=b'{"a": 1}'))
            gone = asyncio.create_task(middleware(gone_scope, _leaving(left), send))
            await settle()
            assert turns.waiting == 2
            left.set()
            await gone
            assert turns.waiting == 1 and sent == [] and gone_scope["state"][admission.GONE] is True
            app.gate("first").set()
            app.gate("queued").set()
            assert (await first).text == "first"
            assert (await queued).text == "queued"  # it waited too, and still got its body
            app.gate("later").set()
            assert (await http.get("/later")).text == "later"
        assert "start gone" not in app.log
        assert app.bodies["queued"] == b'{"a": 1}'
        assert turns.free and turns.waiting == 0


@pytest.mark.parametrize("seed", range(20))
async def test_no_turn_is_lost_whenever_clients_leave_or_requests_are_cancelled(seed: int):
    import random

    rng = random.Random(seed)
    limit = rng.randint(1, 3)
    turns = Turns(limit)
    running = most = 0

    async def app(scope, receive, send):
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            assert (await receive())["type"] == "http.request"  # what was heard meanwhile comes first
            for _ in range(rng.randint(0, 4)):
                await asyncio.sleep(0)
        finally:
            running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = AdmissionMiddleware(app, turns=turns, listen_after=0)

    async def ignore(message):
        return None

    async with asyncio.timeout(5):
        leaving = [asyncio.Event() for _ in range(30)]
        tasks = [asyncio.create_task(middleware(_scope(f"/{i}", rng.choice(["GET", "PUT"])), _leaving(left), ignore))
                 for i, left in enumerate(leaving)]
        for _ in range(60):
            await asyncio.sleep(0)
            if rng.random() < 0.3:
                rng.choice(leaving).set()
            if rng.random() < 0.1:
                rng.choice(tasks).cancel()
        for left in leaving:  # the rest leave once answered (as a client does)
            left.set()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(e is None or isinstance(e, asyncio.CancelledError) for e in ended), ended
    assert most <= limit and running == 0 and turns.waiting == 0
    for _ in range(limit):  # every turn is free again, and no more than those
        await asyncio.wait_for(turns.take(), 1)
    assert not turns.free


async def test_a_request_dropped_while_waiting_is_counted_as_499():
    from app.ops.metrics import GONE_LABEL, Metrics, MetricsMiddleware

    async with asyncio.timeout(5):
        app = Recorder()
        turns = Turns(1)
        metrics = Metrics()
        stack = MetricsMiddleware(AdmissionMiddleware(app, turns=turns, listen_after=0), metrics=metrics)
        left = asyncio.Event()

        async def send(message):
            raise AssertionError(message)  # nothing is sent to a client that left

        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack), base_url="http://t")
        async with http:
            first = asyncio.create_task(http.get("/first"))
            await settle()
            gone = asyncio.create_task(stack(_scope("/api/v1/units/VN/summary"), _leaving(left), send))
            await settle()
            left.set()
            await gone
            app.gate("first").set()
            await first
        text = metrics.render()[0].decode()
        assert f'ntm_http_requests_total{{method="GET",route="{GONE_LABEL}",status="499"}} 1.0' in text
        assert 'status="200"} 1.0' in text  # /first, counted as before


async def _call(app, path: str, receive) -> list[int]:
    out: list[dict] = []

    async def send(message):
        out.append(message)

    await app(_scope(path), receive, send)
    return [m["status"] for m in out if m["type"] == "http.response.start"]


async def test_a_wait_longer_than_the_body_deadline_is_no_late_body():
    """The body limit's deadline is for a body arriving: a request that waits longer than it for
    its turn, listening for its client meanwhile, is answered, not refused with 408."""
    from app.core.middleware import BodyLimitMiddleware

    async with asyncio.timeout(5):
        app = Recorder()
        turns = Turns(1)
        stack = BodyLimitMiddleware(AdmissionMiddleware(app, turns=turns, listen_after=0), max_bytes=1024, timeout=0.05)
        first = asyncio.create_task(_call(stack, "/first", _leaving(asyncio.Event())))
        await settle()
        queued = asyncio.create_task(_call(stack, "/queued", _leaving(asyncio.Event())))
        await asyncio.sleep(0.15)  # three times the body deadline, waiting for the turn
        app.gate("first").set()
        app.gate("queued").set()
        assert await first == [200]
        assert await queued == [200]


async def test_a_request_cancelled_as_it_is_handed_its_turn_ends_cancelled():
    async with asyncio.timeout(5):
        app = Recorder()
        turns = Turns(1)
        middleware = AdmissionMiddleware(app, turns=turns, listen_after=0)
        first = asyncio.create_task(_call(middleware, "/first", _leaving(asyncio.Event())))
        await settle()
        queued = asyncio.create_task(_call(middleware, "/queued", _leaving(asyncio.Event())))
        await settle()  # waiting, and listening
        release = turns.release

        def release_then_cancel() -> None:
            release()  # hands the turn to the queued request, which is cancelled before it runs
            asyncio.get_running_loop().call_soon(queued.cancel)

        turns.release = release_then_cancel  # type: ignore[method-assign]
        app.gate("first").set()
        assert await first == [200]
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert "start queued" not in app.log
        assert turns.free and turns.waiting == 0
