"""The Makefile: `make lint` passes (and `make test` runs it first), `make help` lists every target, and a target
given bad input is refused by qz in one line with make's exit status 2."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
# never let a test reinstall the environment, whatever the timestamps say
MAKE_ARGS = [MAKE, "-s", "-C", str(ROOT), "-o", ".venv/.installed"] if MAKE else []
pytestmark = pytest.mark.skipif(MAKE is None or not (ROOT / ".venv" / "bin" / "ruff").exists(),
                                reason="needs make and the project's .venv")


def _make(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*MAKE_ARGS, *args], capture_output=True, text=True, timeout=timeout)


def _targets() -> list[str]:
    return re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M)


def test_make_lint_passes():
    done = _make("lint")
    assert done.returncode == 0, done.stdout + done.stderr


def test_make_test_runs_the_lint_first():
    commands = _make("-n", "test").stdout.splitlines()
    assert "ruff check" in commands[0] and "pytest" in commands[-1], commands


def test_make_help_lists_every_target():
    listed = {line.split()[1] for line in _make("help").stdout.splitlines()}
    assert set(_targets()) - {"all"} <= listed


@pytest.mark.parametrize(("args", "expect"), [
    (["hil", "PORT=/nonexistent/tty"], "qz hil: error: port /nonexistent/tty: cannot open it"),
    (["mc", "MC_SCENARIOS=final_approach", "MC_RUNS=0"], "qz mc: error: argument --runs"),
    (["nees", "NEES_RUNS=0"], "qz nees: error: argument --runs"),
    (["nees", "NEES_SCENARIO=no_such_scenario"], "qz nees: error:"),
    (["mc-bench", "MC_RUNS=-3"], "qz mc-bench: error:"),
])
def test_bad_input_to_a_target_is_one_qz_line_and_exit_2(args, expect):
    runs = ROOT / "runs"
    before = sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []
    done = _make(*args)
    assert done.returncode == 2
    ours = [ln for ln in done.stderr.splitlines() if not ln.startswith("make")]
    assert len(ours) == 1 and ours[0].startswith(expect) and "Traceback" not in done.stderr, done.stderr
    assert (sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []) == before
