"""The service as deployed, ``ntm serve --no-setup``, on a test database (browser, contract,
concurrency, durability and serving tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.users import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
NTM = Path(sys.executable).with_name("ntm")  # the console script installed beside this interpreter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(database_url: str, *, port: int | None = None, extra_env: dict[str, str] | None = None,
          workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """Start the service on an already migrated database and wait until /healthz answers; returns
    the process (with several workers: their parent) and its base URL."""
    port = port or free_port()
    env = {**os.environ, "NTM_DATABASE_URL": database_url, "NTM_ENV": "test", "NTM_LOG_LEVEL": "warning",
           "NTM_SECRET_KEY": TEST_SECRET,
           **(extra_env or {})}
    process = subprocess.Popen(
        [str(NTM), "serve", "--no-setup", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start within 30 s")


@contextmanager
def running(database_url: str, **kwargs) -> Iterator[str]:
    process, base = start(database_url, **kwargs)
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
