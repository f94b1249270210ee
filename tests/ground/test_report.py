"""Run reports: report.html from a real short run's archive, absent packets, thermal zones, contact envelope, CLI."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ground.report import ReportError, load_run, write_report
from sims.runner import run_sil
from telemetry.archive import ArchiveWriter
from telemetry.codec import tm_codec
from telemetry.dictionary import N_HEATER_ZONES

SHORT_S = 15.0  # [s] mission time: every 1 Hz packet several times, in a few seconds of wall time
SECTION_IDS = ("overview", "docking", "trajectory", "range", "attitude", "propulsion", "thermal", "timing",
               "events")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "final_approach"
    run_sil("final_approach", out, duration_s=SHORT_S, progress=False)
    return out


@pytest.fixture
def run_copy(short_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(short_run, dst)
    return dst


def _section(page: str, key: str) -> str:
    m = re.search(rf"<section id='{key}'>(.*?)</section>", page, re.S)
    assert m, f"section {key} missing"
    return m.group(1)


def test_report_of_a_real_run_has_every_section_with_embedded_plots(run_copy):
    path = write_report(run_copy)
    assert path == run_copy / "report.html"
    page = path.read_text()
    for key in SECTION_IDS:
        _section(page, key)
    for key in ("trajectory", "range", "attitude", "propulsion", "events", "timing"):
        assert "data:image/png;base64," in _section(page, key), key
    assert "failed to draw" not in page


def test_report_plots_come_from_the_archive(run_copy):
    run = load_run(run_copy)
    nav = run.packets["NAV_STATE"]
    assert len(nav["t"]) == pytest.approx(SHORT_S, abs=2)  # 1 Hz housekeeping of the short run
    (run_copy / "telemetry.ccsds").write_bytes(b"")  # same summary, empty archive: nothing left to draw
    page = write_report(run_copy).read_text()
    assert "No NAV_STATE packets in this archive" in _section(page, "trajectory")


def test_report_says_which_packets_are_absent_instead_of_failing(tmp_path):
    (tmp_path / "telemetry.ccsds").write_bytes(b"")
    page = write_report(tmp_path).read_text()
    for key, name in (("trajectory", "NAV_STATE"), ("range", "DOCKING_MONITOR"), ("attitude", "ATT_STATE"),
                      ("propulsion", "PROPULSION"), ("thermal", "THERMAL_ZONES"), ("events", "EVENT")):
        assert f"No {name} packets in this archive" in _section(page, key)
    assert "no summary.json" in _section(page, "overview")
    assert "failed to draw" not in page


def test_thermal_section_draws_every_zone_when_thermal_packets_exist(run_copy):
    codec = tm_codec("THERMAL_ZONES")
    n = N_HEATER_ZONES
    before = len(load_run(run_copy).packets["THERMAL_ZONES"]["t"])  # the thermal app may or may not fly
    with ArchiveWriter(run_copy / "telemetry.ccsds") as w:
        for k in range(10):
            values = ([20.0 + 0.1 * k] * n + [21.0] * n + [1] * n + [0] * n + [0.5] * n + [300.0, 600.0, 0]
                      + [0.0] * n)
            w.write(codec.pack(k, (k + 1) * 1_000_000_000, values))
    run = load_run(run_copy)
    assert len(run.packets["THERMAL_ZONES"]["t"]) == before + 10
    sec = _section(write_report(run_copy).read_text(), "thermal")
    assert "data:image/png;base64," in sec and "No THERMAL_ZONES" not in sec


def test_docking_section_lists_each_contact_quantity_against_its_limit(run_copy):
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["docking"].update({
        "contact": True, "captured": False, "time_s": 12.5, "failed_limits": ["lateral_misalignment_m"],
        "axial_rate_mps": {"value": 0.1, "limit": [0.08, 0.18], "ok": True},
        "lateral_misalignment_m": {"value": 0.2, "limit": 0.16, "ok": False},
        "rates_deg_s": {"value": [0.01, -0.02, 0.0], "limit": 0.6, "ok": True}})
    (run_copy / "summary.json").write_text(json.dumps(summary))
    sec = _section(write_report(run_copy).read_text(), "docking")
    assert "NOT CAPTURED (lateral_misalignment_m)" in sec
    assert "<td>lateral_misalignment_m</td><td>0.2</td><td>&lt;= 0.16</td><td>OUT</td>" in sec
    assert "<td>axial_rate_mps</td><td>0.1</td><td>0.08 .. 0.18</td><td>ok</td>" in sec
    assert "data:image/png;base64," in sec


def test_write_report_names_a_missing_archive(tmp_path):
    with pytest.raises(ReportError, match=r"telemetry\.ccsds: no telemetry archive"):
        write_report(tmp_path)


def test_qz_report_exits_2_naming_a_missing_run_folder(tmp_path, capsys):
    from ground.cli import main

    missing = tmp_path / "no-such-run"
    assert main(["report", str(missing)]) == 2
    assert f"{missing}: no such run folder" in capsys.readouterr().err


def test_qz_report_rebuilds_the_report(run_copy, capsys):
    from ground.cli import main

    assert main(["report", str(run_copy)]) == 0
    assert (run_copy / "report.html").stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out
