"""Contract fuzzing: schemathesis, every check (`--checks all`), against a real server process on
each database, signed in as an administrator, over the demo data, for a bounded time.

No 5xx, no response outside its documented status codes, content types and schemas, no
schema-violating request accepted, no schema-valid one refused except by a documented domain
rule (see schemathesis.toml beside this file). ``NTM_FUZZ_SECONDS`` bounds each database's run
(default 55 s: under `-n 2` the fuzzer shares the CPU with the other worker); ``NTM_FUZZ_SEED``
picks the seed (default fixed, so a CI run is repeatable).
One schemathesis worker: with two, CPython 3.11's `ast.parse` (which Hypothesis calls to
describe its filters) was seen to fail from two threads at once ("AST constructor recursion
depth mismatch"), an error inside the tool, not an answer of the service.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.builders import load_demo
from tests.servers import running
from tests.users import ADMIN, PASSWORD

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("NTM_FUZZ_SECONDS", "55"))
SEED = os.environ.get("NTM_FUZZ_SEED", "20201215")


async def test_openapi_contract_holds_under_fuzzing(db, backend, tmp_path):
    await load_demo(db)
    with running(db.settings.database_url) as base:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
        command = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"),
            "run", f"{base}/openapi.json", "--checks", "all",
            # replaced by positive_data_acceptance_except_rule_violations (schemathesis_hooks.py)
            "--exclude-checks", "positive_data_acceptance",
            "--header", f"Authorization: Bearer {token['access_token']}",
            "--phases", "examples,coverage,fuzzing,stateful", "--max-time", str(SECONDS),
            "--seed", SEED, "--workers", "1", "--report", "junit", "--report-dir", str(tmp_path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 240,
                                env={**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py")},
                                cwd=tmp_path)
    summary = result.stdout[-3000:]
    print(f"schemathesis on {backend}:\n{summary}")
    assert result.returncode == 0, f"schemathesis found failures on {backend}:\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
    assert "passed" in summary and "generated" in summary
