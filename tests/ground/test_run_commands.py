"""qz sim and qz hil write the same run folder, report.html included (unless --no-report)."""

from __future__ import annotations

import sys

import pytest

from ground.cli import main

SHORT_S = "3"  # [s] mission time: a few seconds of wall time, lockstep over a pseudo-terminal pair


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals of Linux")
def test_qz_hil_writes_the_run_report_like_qz_sim(tmp_path, capsys):
    out = tmp_path / "hil"
    assert main(["hil", "--pty", "--scenario", "final_approach", "--lockstep", "--duration", SHORT_S, "--out",
                 str(out), "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    assert "Run report: final_approach" in page and "data:image/png;base64," in page
    assert "failed to draw" not in page


def test_qz_sim_no_report_leaves_it_out(tmp_path):
    out = tmp_path / "sim"
    assert main(["sim", "--scenario", "final_approach", "--duration", SHORT_S, "--out", str(out), "--no-progress",
                 "--no-report"]) == 0
    assert (out / "summary.json").is_file() and not (out / "report.html").exists()
