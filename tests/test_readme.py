"""The README's commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = [line for line in (ROOT / ".ci/run").read_text().splitlines()
                if re.search(r"\.venv/bin/pytest\b", line) and not line.lstrip().startswith("#")]
    assert len(ci_lines) == 1, ci_lines
    assert ci_lines[0].strip() in (ROOT / "README.md").read_text()


def test_readme_start_command_serves_the_demo():
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/ntm serve --demo" in readme


def test_ci_checks_the_compose_file_with_every_mandatory_variable_set():
    """docker-compose.yml refuses to render without its `${VAR:?…}` variables: .ci/run reads their
    names from the file and sets each to a dummy value for `docker-compose config -q`, or CI would
    stop before the tests. Its own line, run here, finds exactly the file's variables."""
    import re
    import subprocess

    mandatory = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert mandatory
    line = next(line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
                if line.strip().startswith("mandatory="))
    found = subprocess.run(["bash", "-c", f"{line}; echo $mandatory"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert set(found) == mandatory
