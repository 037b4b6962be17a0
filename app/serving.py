"""Several uvicorn worker processes that share the connections evenly (``ntm serve --workers N``).

uvicorn's own multi-process mode binds one socket in the parent and every worker accepts from
it. When connections arrive together (a load balancer opening its keep-alive pool, a burst of
clients), the first worker to wake accepts all of them — asyncio accepts a whole backlog per
wake-up — and keeps them: the other workers stay idle. Measured here with 16 keep-alive
connections opened at once: in 2 runs of 5 every connection went to one of the two workers.

On Linux each worker here listens on its own socket bound with ``SO_REUSEPORT`` to the same
address, and the kernel spreads new connections over those sockets by a hash of their
addresses. The parent holds the port (bound, never listening, so it receives nothing), starts
the workers, starts a new one when one dies, and on SIGTERM or SIGINT asks each to stop and
waits: every worker finishes its in-flight requests (uvicorn's graceful shutdown). Elsewhere,
or with one worker, uvicorn runs as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("uvicorn.error")

_spawn = multiprocessing.get_context("spawn")
RESTART_DELAY = 5.0


def balanced() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux ``SO_REUSEPORT``)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (not yet listening)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


MAX_HEAD_BYTES = 16 * 1024  # a request line and headers beyond this: 431 and the connection closed


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser: a fifth more requests per second than the
    pure-Python h11 under the mixed load of ``bench.fresh_reports``) with two guards on each
    request's head (the request line and headers), which the parser does not enforce:

    * a deadline: a connection that has not sent a complete head within
      ``NTM_HEADER_TIMEOUT_SECONDS`` of opening, or of its previous response, is closed
      (slow-header clients would otherwise hold it for ever; uvicorn's own ``timeout_keep_alive``
      only covers an idle connection between requests);
    * a size: a head still incomplete after ``MAX_HEAD_BYTES`` is answered 431 and the connection
      closed (the parser would otherwise collect headers without bound)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from app.core.config import get_settings

        self._head_timeout = get_settings().header_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # waiting for (or reading) a request's head
        self._head_received = 0  # bytes received while in the head (a bound before the parser has them)
        self._head_size = 0  # the head's URL and headers as parsed (exact, however the bytes arrived)
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refused:
            self._answer_refusal()  # once the requests before the refused head are answered
        else:
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_received += len(data)  # before parsing: a chunk that ends the head is not judged by it
        super().data_received(data)
        if self._in_head and self._head_received > MAX_HEAD_BYTES:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:  # a request pipelined behind a refused head, in the same read: never run
            return
        self._in_head, self._head_received = False, 0
        if self._head_size > MAX_HEAD_BYTES:  # a whole head that arrived in one read
            self._refuse_head()
            return  # no request cycle: the application never sees it
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._in_head = True  # the next request's head comes next

    def _refuse_head(self) -> None:
        """Read nothing more; answer 431 and close, after the responses to the requests that came
        before this head on the connection (pipelined): a client pairs answers with its requests
        in order, so a 431 written earlier would be taken for one of theirs."""
        if self._refused:
            return
        self._refused = True
        self._answer_refusal()

    def _answer_refusal(self) -> None:
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return  # on_response_complete comes back here
        body = json.dumps({
            "type": "about:blank", "title": "Request Header Fields Too Large", "status": 431,
            "detail": f"The request line and headers exceed {MAX_HEAD_BYTES // 1024} KiB.",
        }).encode()
        if not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
            )
            self.transport.close()

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return  # a request is still under way (pipelined): armed when its response completes
        waiting_for = self.cycle
        self._head_deadline = self.loop.call_later(self._head_timeout, self._head_late, waiting_for)

    def _head_late(self, waiting_for: object) -> None:
        # no new request began since the deadline was set: the head is late
        if self.cycle is waiting_for and not self.transport.is_closing():
            self.transport.close()


def _worker(options: dict[str, Any]) -> None:
    """One worker process: its own listening socket in the port's group, then uvicorn."""
    config = uvicorn.Config(**options)
    sock = reuse_port_socket(config.host, config.port)
    uvicorn.Server(config).run(sockets=[sock])


def run(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (an import string, ``factory`` allowed) with ``workers`` processes."""
    if workers <= 1 or not balanced():
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    try:
        holder = reuse_port_socket(host, port)  # fails here, once, when the port is taken
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc)
        sys.exit(3)
    worker_options = {"app": app, "host": host, "port": port, "workers": 1, **options}
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopping.append(number))

    started: dict[int, float] = {}

    def start(index: int) -> multiprocessing.process.BaseProcess:
        process = _spawn.Process(target=_worker, args=(worker_options,), daemon=False)
        process.start()
        started[index] = time.monotonic()
        return process

    log.info("parent process [%d]: %d workers, each with its own socket on %s:%d", os.getpid(), workers, host, port)
    processes = [start(index) for index in range(workers)]
    try:
        while not stopping:
            for index, process in enumerate(processes):
                # a worker that cannot start (say, no database) is retried every RESTART_DELAY s, not in a tight loop
                if not process.is_alive() and not stopping and time.monotonic() - started[index] >= RESTART_DELAY:
                    log.warning("worker [%s] exited with %s; starting another", process.pid, process.exitcode)
                    processes[index] = start(index)
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
        for process in processes:
            process.join()
        holder.close()
