"""What a newcomer meets first: qz --version, qz sim --list, a run's last lines, the compile notice, Ctrl-C."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numba
import pytest

from ground.cli import main
from sims.compile_progress import CompileProgress
from sims.scenario import describe_scenarios, list_scenarios
from telemetry.archive import read_archive

QZ = shutil.which("qz", path=str(Path(sys.executable).parent)) or "qz"


def test_version_names_the_distribution_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"qz {metadata.version('qingzhou-fsw')}"


def test_sim_list_shows_every_shipped_scenario_with_its_description(capsys):
    assert main(["sim", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list_scenarios()
    for line, (name, text) in zip(lines, describe_scenarios(), strict=True):
        assert line.split(None, 1)[1] == text and text, name


def test_early_stop_ends_the_bar_at_100_percent_and_the_last_line_names_the_report(tmp_path, capsys):
    # a start 3 m from the port closing at 0.5 m/s: a failed contact within seconds of a 600 s run
    scenario = tmp_path / "bump.toml"
    scenario.write_text('base = "final_approach"\nname = "bump"\nduration_s = 600.0\n\n[chaser]\n'
                        'r_LVLH_m = [0.0, -6.0, 0.0]\nv_LVLH_mps = [0.0, 0.5, 0.0]\n')
    out = tmp_path / "run"
    rc = main(["sim", "--scenario", str(scenario), "--out", str(out)])
    captured = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] in ("failed docking contact", "collision") and rc == 1
    flown = int(round(summary["mission_time_s"]))
    bar = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in bar and f"{flown}/{flown}" in bar, bar
    assert captured.out.splitlines()[-1] == f"report: {out / 'report.html'}"
    assert (out / "report.html").is_file()


def test_a_compile_is_announced_with_a_bar_of_the_kernels():
    @numba.njit(cache=False)
    def fresh(x):
        return x + 1

    text = io.StringIO()
    with CompileProgress(file=text) as progress:
        assert fresh(1) == 2
    out = text.getvalue()
    assert out.startswith("compiling the numba kernels: first run only")
    assert progress.compiled >= 1 and "100%" in out


def test_nothing_is_said_when_nothing_compiles():
    text = io.StringIO()
    with CompileProgress(file=text):
        sum(range(10))
    assert text.getvalue() == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
def test_ctrl_c_writes_the_summary_with_stop_reason_interrupted_and_keeps_the_archive(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([QZ, "sim", "--scenario", "thermal_hot", "--out", str(out), "--no-report",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    archive = out / "telemetry.ccsds"
    deadline = time.monotonic() + 120
    while not (archive.is_file() and archive.stat().st_size > 10_000):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "qz sim: interrupted" and "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "interrupted" and 0 < summary["mission_time_s"] < 86400
    report = read_archive(archive)
    assert len(report.packets) > 100 and not report.damage
