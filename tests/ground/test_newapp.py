"""``qz new-app NAME``: its refusals, and its output passes its own test, benchmark and lint as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ground.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["Bad", "9lives", "a-b", "class", "x", "numpy", "fsw", "a" * 25])
def test_a_bad_name_is_refused_in_one_line_and_nothing_is_written(name, tmp_path, capsys):
    assert main(["new-app", name, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NAME" in err
    assert not any(tmp_path.iterdir())


def test_an_existing_target_is_refused_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "tests" / "apps").mkdir(parents=True)
    (tmp_path / "tests" / "apps" / "test_mylaw.py").write_text("mine\n")
    assert main(["new-app", "mylaw", "--root", str(tmp_path)]) == 2
    assert "test_mylaw.py already exists" in capsys.readouterr().err
    assert not (tmp_path / "mylaw").exists()


def test_a_root_that_is_not_a_folder_is_refused(tmp_path, capsys):
    assert main(["new-app", "mylaw", "--root", str(tmp_path / "nowhere")]) == 2
    assert "--root" in capsys.readouterr().err


def test_the_template_flies_and_passes_its_test_benchmark_and_lint(tmp_path):
    assert main(["new-app", "qz_template_law", "--root", str(tmp_path)]) == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "tests/apps", "tests/bench", "--benchmark-enable"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # the project's lint, with the new package first-party as it is at the project root
        lint = subprocess.run([str(ruff), "check", "--config", str(ROOT / "pyproject.toml"), "--config",
                               "lint.isort.known-first-party = ['fsw', 'hal', 'telemetry', 'sims', 'ground', "
                               "'qz_template_law']", "."], cwd=tmp_path, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
