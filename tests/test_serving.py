"""``ntm serve --workers N``: connections opened together are spread over the workers, a worker
that dies is replaced, and SIGTERM stops the parent and every worker (Linux: app/serving.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app import serving
from tests.servers import start
from tests.users import TEST_SECRET

pytestmark = pytest.mark.skipif(not serving.balanced(), reason="SO_REUSEPORT balancing is Linux's")


def _workers(parent: int) -> list[int]:
    """The parent's worker processes (spawned children running uvicorn, not helpers)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _tcp_rows(port: int) -> list[tuple[str, str]]:
    """(state, socket inode) of every TCP socket whose local port is ``port``."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                rows.append((fields[3], fields[9]))
    return rows


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _wait(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=40)


async def test_connections_opened_together_reach_every_worker(db):
    process, base = start(db.settings.database_url, workers=2)
    port = int(base.rsplit(":", 1)[1])
    clients: list[socket.socket] = []
    try:
        _wait(lambda: len(_workers(process.pid)) == 2)
        workers = _workers(process.pid)
        # one listening socket per worker; the parent's holds the port and listens on nothing
        _wait(lambda: [state for state, _ in _tcp_rows(port)].count("0A") == 2)
        for _ in range(32):  # like a load balancer opening its keep-alive pool
            clients.append(socket.create_connection(("127.0.0.1", port)))
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        established = {inode for state, inode in _tcp_rows(port) if state == "01"}
        held = [len(_socket_inodes(pid) & established) for pid in workers]
        assert sum(held) == 32, held
        assert min(held) >= 4, f"connections per worker: {held}"  # even hashing: P(< 4 of 32) ≈ 3e-6
    finally:
        for client in clients:
            client.close()
        assert _stop(process) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived its parent"


async def test_a_dead_worker_is_replaced_and_the_port_keeps_answering(db):
    process, base = start(db.settings.database_url, workers=2)
    port = int(base.rsplit(":", 1)[1])
    listening = lambda: [state for state, _ in _tcp_rows(port)].count("0A")  # noqa: E731
    try:
        _wait(lambda: len(_workers(process.pid)) == 2 and listening() == 2)
        victim = _workers(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: listening() == 1)  # its socket is gone (what was queued on it is lost, as with any crash)
        for _ in range(20):  # the survivor takes every new connection meanwhile
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        _wait(lambda: victim not in _workers(process.pid) and len(_workers(process.pid)) == 2 and listening() == 2,
              seconds=serving.RESTART_DELAY + 15)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        assert _stop(process) == 0


def test_a_taken_port_fails_at_once_with_a_message(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).with_name("ntm")), "serve", "--no-setup", "--port", str(port), "--workers", "2"],
            env={**os.environ, "NTM_DATABASE_URL": db.settings.database_url, "NTM_ENV": "test",
                 "NTM_SECRET_KEY": TEST_SECRET},
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr + result.stdout


async def test_sigterm_lets_a_request_in_flight_finish(db):
    process, base = start(db.settings.database_url, workers=2)
    port = int(base.rsplit(":", 1)[1])
    body = b'{"code": "99999"}'
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST /api/v1/units HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body[:5]))
        time.sleep(0.5)  # the worker has the request and waits for the rest of its body
        process.send_signal(signal.SIGTERM)
        _wait(lambda: [state for state, _ in _tcp_rows(port)].count("0A") == 0)  # no new connections taken
        client.sendall(body[5:])
        client.settimeout(20)
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]  # answered in full: no credentials sent
    assert process.wait(timeout=40) == 0
