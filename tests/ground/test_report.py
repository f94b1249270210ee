"""Run reports: report.html from a real short run's archive, absent packets, thermal zones, contact envelope, CLI;
the figures' data of a whole nominal run and of an abort (equal scales, profile, labels, legends, capture)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from ground.report import (
    PROFILE_MODES,
    ReportError,
    _mode_spans,
    build_sections,
    event_source_names,
    load_run,
    write_report,
)
from sims.runner import run_sil
from telemetry.archive import ArchiveWriter, decode_apid
from telemetry.codec import tm_codec
from telemetry.dictionary import MODES, N_HEATER_ZONES, event_name

SHORT_S = 15.0  # [s] mission time: every 1 Hz packet several times, in a few seconds of wall time
SECTION_IDS = ("overview", "docking", "far_range", "trajectory", "range", "attitude", "propulsion", "thermal", "timing",
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


# ---------------------------------------------------------------------------------------------- the figures' data


def _draw(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig


def _figures(sections, key=None):
    return [fig for sec in sections if key in (None, sec.key) for _, fig in sec.figures]


def _axes(sections, gid):
    return [ax for fig in _figures(sections) for ax in fig.axes if ax.get_gid() == gid]


def _line(ax, gid):
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(lines) == 1, f"{gid}: {len(lines)} lines"
    return lines[0]


def _mode_names_at(run, t):
    hk = run.packets["HK_STATUS"]
    k = np.searchsorted(hk["t"], t, side="right") - 1
    return np.array([MODES[int(hk["mode"][i])] if i >= 0 else "" for i in k])


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    """The whole nominal scenario (5 km hold to docking), its run folder and the report's sections."""
    out = tmp_path_factory.mktemp("nominal") / "run"
    run_sil("nominal", out, progress=False)
    run = load_run(out)
    return run, build_sections(run)


@pytest.fixture(scope="module")
def abort(tmp_path_factory):
    """abort_100m: crew ABORT at 100 m, then a CAM and two orbits of free drift."""
    out = tmp_path_factory.mktemp("abort") / "run"
    run_sil("abort_100m", out, progress=False)
    run = load_run(out)
    return run, build_sections(run)


def test_nominal_docks_and_its_report_draws_every_section(nominal):
    run, sections = nominal
    assert run.summary["stop_reason"] == "docked"
    assert [s.key for s in sections] == list(SECTION_IDS)
    assert not [n for s in sections for n in s.notes if "failed to draw" in n]


def test_trajectory_views_have_equal_scales_on_both_axes(nominal):
    views = _axes(nominal[1], "trajectory-view")
    assert len(views) == 6  # (in-plane, out-of-plane) x (whole run, last 400 m, last 20 m)
    _draw(views[0].figure)
    for ax in views:
        box = ax.get_window_extent()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        m_per_px_x, m_per_px_y = (x1 - x0) / box.width, (y1 - y0) / box.height
        assert m_per_px_x == pytest.approx(m_per_px_y, rel=1e-3), ax.get_title()


def test_trajectory_zooms_on_the_last_400_m_and_the_last_20_m(nominal):
    spans = {ax.get_title(): np.ptp(ax.get_xlim()) for ax in _axes(nominal[1], "trajectory-view")}
    assert spans["in-plane (y, x): whole run"] > 5000.0  # from the 5 km hold
    assert 400.0 < spans["in-plane (y, x): last 400 m"] < 600.0
    assert 20.0 < spans["out-of-plane (y, z): last 20 m"] < 30.0


def test_every_trajectory_view_shows_corridor_keep_out_sphere_hold_points_and_port(nominal):
    for ax in _axes(nominal[1], "trajectory-view"):
        labels = ax.get_legend_handles_labels()[1]
        for wanted in ("corridor", "keep-out sphere", "hold points", "station port", "chaser port"):
            assert any(lab.startswith(wanted) for lab in labels), (ax.get_title(), wanted)


def test_speed_profile_is_drawn_only_in_closing_and_final_approach(nominal):
    run, sections = nominal
    (ax,) = _axes(sections, "closing-rate-time")
    for gid in ("profile", "abort-threshold"):
        line = _line(ax, gid)
        t, v = line.get_xdata(), np.asarray(line.get_ydata(), float)
        modes = _mode_names_at(run, t)
        outside = ~np.isin(modes, ["CLOSING", "FINAL_APPROACH"])
        assert np.isnan(v[outside]).all(), gid
        assert np.isfinite(v[modes == "CLOSING"]).sum() > 1000 and np.isfinite(v[modes == "FINAL_APPROACH"]).any()
    # the CW transfer from the 5 km hold (HOMING) closes at over 2 m/s: drawn as a transfer, not on the profile
    transfer = np.asarray(_line(ax, "transfer").get_ydata(), float)
    assert np.nanmax(transfer) > 2.0
    (ax_d,) = _axes(sections, "closing-rate-distance")
    assert np.max(_line(ax_d, "closing-rate").get_ydata()) < 1.0
    assert np.max(_line(ax_d, "profile").get_xdata()) <= 1.01 * max(run.gnc["guidance"]["hold_distances_m"][1:])


def test_a_cam_is_drawn_as_a_cam_and_never_against_the_profile(abort):
    run, sections = abort
    (ax,) = _axes(sections, "closing-rate-time")
    cam = _line(ax, "cam")
    t_cam = np.asarray(cam.get_xdata())[np.isfinite(np.asarray(cam.get_ydata(), float))]
    assert len(t_cam) > 1000  # two orbits of drift after the CAM
    assert (_mode_names_at(run, t_cam[1:]) == "CAM").all()  # (the first point joins the line before it)
    profile = _line(ax, "profile")
    v = np.asarray(profile.get_ydata(), float)
    assert np.isnan(v[np.isin(profile.get_xdata(), t_cam[1:])]).all()
    assert np.isfinite(v).any()  # closing from 400 m before the ABORT


def _numeric(text: str) -> bool:
    t = re.sub(r"[${}]|\\mathdefault|\\times", "", text).replace("\u2212", "-").replace("^", "e")
    return bool(re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?|-?10e-?\d+", t.strip()))


def test_every_axis_with_tick_labels_has_a_label_and_numbers_have_a_unit(nominal):
    for fig in _figures(nominal[1]):
        _draw(fig)
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                ticks = [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
                if not axis.get_visible() or not ticks:
                    continue
                label = axis.get_label_text().strip()
                assert label, f"{ax.get_title() or fig.axes.index(ax)}: unlabelled axis with ticks {ticks[:3]}"
                if all(_numeric(t) for t in ticks):
                    assert "[" in label, f"no unit in {label!r}"


def _legend_boxes(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    return [leg.get_window_extent() for leg in legends]


def test_no_legend_covers_data_or_an_axis_label(nominal):
    from matplotlib.transforms import Bbox

    for fig in _figures(nominal[1]):
        _draw(fig)
        boxes = _legend_boxes(fig)
        for ax in fig.axes:
            labels = [a.label.get_window_extent() for a in (ax.xaxis, ax.yaxis) if a.label.get_text()]
            for box in boxes:
                assert not any(Bbox.intersection(box, lab) for lab in labels), ax.get_xlabel()
            for line in ax.get_lines():
                if line.get_transform() != ax.transData or not line.get_visible():
                    continue  # axhline / axvline span the axes by design
                xy = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
                xy = xy[np.isfinite(xy).all(axis=1)]
                for box in boxes:
                    inside = (xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)
                    assert not inside.any(), f"legend over {line.get_label()!r} in {ax.get_title()!r}"


def test_attitude_is_one_panel_per_body_axis_in_degrees_with_envelopes_and_limits(nominal):
    (fig,) = _figures(nominal[1], "attitude")
    assert len(fig.axes) == 6
    for ax in fig.axes:
        assert "[deg" in ax.get_ylabel()
        assert any(c.get_gid() == "envelope" for c in ax.collections)  # min/max per bin, not 6,000 raw samples
        stated = any("off the scale" in t.get_text() for t in ax.texts)
        assert stated or any(ln.get_gid() == "limit" for ln in ax.get_lines())


def test_no_navigation_invalid_after_capture_in_nominal(nominal):
    run, _ = nominal
    captured = run.summary["docking"]["time_s"]  # truth: the mechanism's capture
    ev = run.packets["EVENT"]
    after = [bytes(x).rstrip(b"\0").decode() for x, t in zip(ev["text"], ev["t"], strict=True) if t >= captured]
    assert "docked: capture confirmed" in after and not [x for x in after if "navigation invalid" in x]
    assert run.summary["mission_time_s"] - captured > 9.0  # the run went on after the capture
    docked = next(t0 for t0, _, name in _mode_spans(run) if name == "DOCKED")  # first DOCKED housekeeping
    nav = run.packets["NAV_STATE"]
    assert (nav["valid"][nav["t"] >= docked] == 1).all()
    dm = run.packets["DOCKING_MONITOR"]
    assert np.max(dm["range_m"][dm["t"] >= docked]) < 1e-3  # docked: the ports coincide
    log_lines = (run.run_dir / "events.log").read_text().splitlines()
    assert not [ln for ln in log_lines if "navigation invalid" in ln and float(ln.split()[0]) >= captured]


def test_mode_changes_carry_the_mode_managers_name_in_the_report_and_events_log(nominal):
    run, _ = nominal
    names = event_source_names(run)
    ev = run.packets["EVENT"]
    sources = {names[int(s)] for s, x in zip(ev["source_id"], ev["text"], strict=True)
               if bytes(x).startswith(b"mode ")}
    assert sources == {"modes"}
    logged = {ln.split()[2] for ln in (run.run_dir / "events.log").read_text().splitlines() if " mode " in ln
              and "->" in ln}
    assert logged == {"modes"}


def test_profile_modes_are_those_of_the_docking_monitor():
    from fsw.apps.docking import _CLOSING

    assert set(PROFILE_MODES) == _CLOSING


def test_event_table_names_each_event_from_the_event_table(run_copy):
    page = write_report(run_copy).read_text()
    ids = {int(i) for i in decode_apid(run_copy / "telemetry.ccsds", "EVENT")["event_id"]}
    assert ids, "the short run emitted no event"
    events = _section(page, "events")
    assert all(f">{event_name(i)}<" in events for i in ids), [event_name(i) for i in ids]
