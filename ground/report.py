"""Run reports: ``report.html`` of a run folder, drawn from its telemetry archive.

The plots show what the ground saw: every curve comes from the packets in ``telemetry.ccsds``
(bulk-decoded with :func:`telemetry.archive.scan_apid`), never from the simulation's memory. The
run's ``summary.json`` adds what only the truth model knows (docking contact values, truth
propellant) and the timing statistics. Reference geometry (hold points, keep-out sphere, approach
corridor, speed profile, abort thresholds) comes from ``fsw/config/gnc.toml``, thermal zone limits
from ``fsw/config/thermal.toml``, the chaser's docking port from ``fsw/config/vehicle.toml``, as the
flight software reads them.

The page is self-contained (PNG images embedded as base64). A section whose packets are absent
says so; a section that fails to draw shows the error and the others are still written.

>>> write_report("runs/nominal")          # -> runs/nominal/report.html
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fsw
from ground.campaign import contact_speed_design
from telemetry.archive import records_to_columns, scan_apid
from telemetry.dictionary import MODES, SEVERITIES

log = logging.getLogger(__name__)

CONFIG_DIR = Path(fsw.__file__).resolve().parent / "config"
ARCHIVE_NAME = "telemetry.ccsds"
REPORT_NAME = "report.html"
PACKETS = ("NAV_STATE", "ATT_STATE", "GUIDANCE_STATE", "DOCKING_MONITOR", "PROPULSION", "THERMAL_ZONES",
           "EXEC_STATUS", "EXEC_TASK_TIMING", "EVENT", "HK_STATUS")
NS_PER_S = 1e9
DPI = 90
EXECUTIVE_SOURCE_ID = 255  # EVENT.source_id of the executive itself
DESIGN_FRACTION = 0.5  # REFERENCE.md: GNC design target is 3-sigma within half of each limit
MODE_COLORS = {"STANDBY": "#eeeeee", "PHASING": "#dde7f5", "HOMING": "#d6ecf3", "CLOSING": "#e3f1dc",
               "FINAL_APPROACH": "#fdf1cf", "DOCKED": "#d5dcf0", "HOLD": "#ece2f3", "RETREAT": "#f8dfc9",
               "CAM": "#f6cccc", "SAFE": "#f0c0c0"}
UNSIGNED_CONTACT = ("lateral_rate_mps", "lateral_misalignment_m")  # magnitudes; the other limits bound |value|
PROFILE_MODES = ("HOMING", "CLOSING", "FINAL_APPROACH")  # modes in which the closing-rate monitor applies
SEVERITY_COLORS = {"DEBUG": "0.6", "INFO": "C0", "WARNING": "C1", "ERROR": "C3", "CRITICAL": "m"}


class ReportError(Exception):
    """The run folder cannot be reported on (missing folder or archive); the message names it."""


# ---------------------------------------------------------------------------------------------- inputs


@dataclass
class RunData:
    """Decoded packets (columns, ``t`` in mission seconds added) and the run's summary."""

    run_dir: Path
    summary: dict
    packets: dict[str, dict[str, np.ndarray]]
    damage: dict[str, int]
    gnc: dict
    thermal: dict
    port_L_m: np.ndarray  # [m] chaser docking port w.r.t. its CoM in the docking attitude, LVLH
    notes: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.packets and len(self.packets[name]["t_ns"]) > 0


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        log.warning("report: %s unreadable (%s); reference geometry from it left out", path, err)
        return {}


def load_run(run_dir: str | Path) -> RunData:
    """Decode the report's packets from ``RUN_DIR/telemetry.ccsds`` and read ``summary.json``.

    Raises
    ------
    ReportError
        when the folder or its archive is missing (the message names the path and the reason)
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    archive = run_dir / ARCHIVE_NAME
    if not archive.is_file():
        raise ReportError(f"{archive}: no telemetry archive in the run folder (the report is drawn from it)")
    notes = []
    summary = {}
    if (run_dir / "summary.json").is_file():
        try:
            summary = json.loads((run_dir / "summary.json").read_text())
        except json.JSONDecodeError as err:
            notes.append(f"summary.json is not valid JSON ({err}): docking and timing sections limited")
    else:
        notes.append("no summary.json: docking contact values and timing statistics are not available")
    packets, damage = {}, {}
    for name in PACKETS:
        scan = scan_apid(archive, name)
        cols = records_to_columns(name, scan.records)
        cols["t"] = cols["t_ns"] / NS_PER_S
        packets[name] = cols
        damage[name] = len(scan.damage)
    gnc = _read_toml(CONFIG_DIR / "gnc.toml")
    thermal = _read_toml(CONFIG_DIR / "thermal.toml")
    vehicle = _read_toml(CONFIG_DIR / "vehicle.toml")
    port_B = np.asarray(vehicle.get("geometry", {}).get("docking_port_B_m", [0.0, 0.0, 0.0]), float)
    C_RL = np.asarray(gnc.get("attitude_reference", {}).get("C_RL", np.eye(3)), float)
    return RunData(run_dir, summary, packets, damage, gnc, thermal, C_RL.T @ port_B, notes)


# ---------------------------------------------------------------------------------------------- drawing helpers


def _figure(w: float, h: float, nrows: int = 1, ncols: int = 1, **kw):
    from matplotlib.figure import Figure  # Agg canvas; no pyplot global state

    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _mode_spans(run: RunData) -> list[tuple[float, float, str]]:
    """(t0, t1, mode name) of each stretch of constant vehicle mode, from HK_STATUS."""
    if not run.has("HK_STATUS"):
        return []
    t, mode = run.packets["HK_STATUS"]["t"], run.packets["HK_STATUS"]["mode"].astype(int)
    edges = np.flatnonzero(np.diff(mode)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(t) - 1]))
    return [(float(t[a]), float(t[b]), MODES.get(int(mode[a]), str(mode[a]))) for a, b in zip(starts, ends,
                                                                                                 strict=True)]


def _shade_modes(ax, spans, legend: bool = False) -> None:
    seen = set()
    for t0, t1, name in spans:
        label = name if legend and name not in seen else None
        seen.add(name)
        ax.axvspan(t0, t1, color=MODE_COLORS.get(name, "#f4f4f4"), lw=0, zorder=0, label=label)


def _approach_mask(run: RunData, t: np.ndarray) -> np.ndarray:
    """True at times with a valid navigation solution and before the vehicle docked (geometry meaningful)."""
    ok = np.ones(len(t), bool)
    if run.has("NAV_STATE"):
        nav = run.packets["NAV_STATE"]
        k = np.searchsorted(nav["t"], t, side="right") - 1
        ok &= (k >= 0) & nav["valid"].astype(bool)[np.maximum(k, 0)]
    docked = [t0 for t0, _, name in _mode_spans(run) if name == "DOCKED"]
    if docked:
        ok &= t < docked[0]
    return ok


def _closing_mask(run: RunData, t: np.ndarray) -> np.ndarray:
    """Approach times in the modes where the speed profile applies (not CAM, RETREAT, HOLD, SAFE, DOCKED)."""
    ok = _approach_mask(run, t)
    if run.has("HK_STATUS"):
        hk = run.packets["HK_STATUS"]
        k = np.maximum(np.searchsorted(hk["t"], t, side="right") - 1, 0)
        codes = [c for c, name in MODES.items() if name in PROFILE_MODES]
        ok &= np.isin(hk["mode"].astype(int)[k], codes)
    return ok


def _profile(gnc: dict) -> tuple[np.ndarray, np.ndarray]:
    g = gnc.get("guidance", {})
    return np.asarray(g.get("profile_range_m", []), float), np.asarray(g.get("profile_speed_mps", []), float)


# ---------------------------------------------------------------------------------------------- sections


@dataclass
class Section:
    key: str
    title: str
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG)
    html: str = ""
    notes: list[str] = field(default_factory=list)


def _absent(sec: Section, *names: str) -> Section:
    sec.notes.append(f"No {' / '.join(names)} packets in this archive: nothing to draw.")
    return sec


def section_overview(run: RunData) -> Section:
    sec = Section("overview", "Run")
    s = run.summary
    dock = s.get("docking", {})
    rows = [("scenario", s.get("scenario")), ("seed", s.get("seed")), ("stop reason", s.get("stop_reason")),
            ("mission time [s]", _num(s.get("mission_time_s"), "{:.1f}")),
            ("wall time [s]", _num(s.get("wall_time_s"), "{:.1f}")),
            ("speed factor", _num(s.get("speed_factor"), "{:.0f}x")), ("final mode", s.get("final_mode")),
            ("captured", dock.get("captured")), ("collided", dock.get("collided")),
            ("propellant used, truth [kg]", _num(dock.get("propellant_used_kg"), "{:.3f}")),
            ("propellant used, flight estimate [kg]", _num(s.get("propellant_flight_estimate_kg"), "{:.3f}")),
            ("CAM trigger", s.get("guidance", {}).get("cam_trigger"))]
    sec.html += _table(["item", "value"], [(k, v) for k, v in rows if v is not None])
    counts = [(name, len(run.packets[name]["t_ns"]), run.damage[name]) for name in PACKETS]
    sec.html += "<h3>Packets decoded from the archive</h3>" + _table(
        ["packet", "count", "damaged ranges"], counts)
    sec.notes += run.notes
    return sec


def section_trajectory(run: RunData) -> Section:
    sec = Section("trajectory", "LVLH trajectory")
    if not run.has("NAV_STATE"):
        return _absent(sec, "NAV_STATE")
    nav = run.packets["NAV_STATE"]
    # the guided point: chaser docking port relative to the station port (the navigation frame origin)
    keep = _approach_mask(run, nav["t"])
    p = nav["r_LVLH_m"].astype(float)[keep] + run.port_L_m
    valid = nav["valid"].astype(bool)[keep]
    if not len(p):
        sec.notes.append("NAV_STATE never had a valid solution before docking: no trajectory to draw.")
        return sec
    d = run.gnc.get("docking", {})
    holds = run.gnc.get("guidance", {}).get("hold_distances_m", [])
    axis = np.asarray(run.gnc.get("station", {}).get("docking_axis_LVLH", [0.0, -1.0, 0.0]), float)
    kos = float(d.get("kos_radius_m", 0.0))
    tan_c = math.tan(math.radians(float(d.get("corridor_half_angle_deg", 0.0))))
    floor = float(d.get("corridor_min_radius_m", 0.0))
    fig, axes = _figure(12, 5.2, 1, 2)
    span = float(np.max(np.abs(p[valid]))) if valid.any() else 1.0
    for ax, (j, jname) in zip(axes[0], ((0, "x radial (R-bar) [m]"), (2, "z cross-track (H-bar) [m]")), strict=True):
        ax.plot(p[:, 1], p[:, j], color="C0", lw=1.2, label="chaser port (NAV_STATE)")
        ax.plot(p[~valid, 1], p[~valid, j], ".", color="C3", ms=2, label="navigation invalid")
        ax.plot(p[0, 1], p[0, j], "o", color="C0", ms=5)
        ax.plot(0, 0, "s", color="k", ms=6, label="station port")
        ang = np.linspace(0, 2 * np.pi, 361)
        if kos:
            ax.plot(kos * np.cos(ang), kos * np.sin(ang), color="C3", lw=1, ls="--", label=f"keep-out sphere {kos:g} m")
            dist = np.linspace(0.0, kos, 200)
            lat = np.maximum(dist * tan_c, floor)
            for sgn in (1, -1):
                ax.plot(dist * axis[1], sgn * lat, color="C2", lw=1,
                        label=f"corridor {d.get('corridor_half_angle_deg', 0):g} deg" if sgn > 0 else None)
        semi = d.get("ellipsoid_semi_axes_m")
        if semi and span > 0.5 * min(semi):
            ax.plot(semi[1] * np.cos(ang), semi[j] * np.sin(ang), color="0.5", lw=1, ls=":",
                    label="approach ellipsoid")
        for k, h in enumerate(holds):
            if h <= 1.3 * span:
                ax.plot(h * axis[1], 0, "v", color="C4", ms=7, label="hold points" if k == 0 else None)
            nearer = [x for x in holds if x < h]
            if h <= 1.3 * span and h >= 0.04 * span and (not nearer or h - max(nearer) >= 0.04 * span):
                ax.annotate(f"{h:g} m", (h * axis[1], 0), textcoords="offset points", xytext=(0, 8),
                            ha="center", fontsize=8, color="C4")
        ax.set_xlabel("y along-track (V-bar) [m]")
        ax.set_ylabel(jname)
        lim = 1.1 * span
        ax.set_xlim(-lim, 0.15 * lim)
        side = max(0.12 * lim, 1.3 * float(np.max(np.abs(p[:, j]))))
        ax.set_ylim(-side, side)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    axes[0][0].set_title("in-plane (y, x)")
    axes[0][1].set_title("out-of-plane (y, z)")
    sec.images.append(("Chaser docking port relative to the station port (navigation estimate), with the "
                       "hold points, keep-out sphere and approach corridor.", _png(fig)))
    if run.has("DOCKING_MONITOR"):
        dm = run.packets["DOCKING_MONITOR"]
        rng, lat = dm["range_m"].astype(float), dm["lateral_m"].astype(float)
        axial = np.sqrt(np.maximum(rng ** 2 - lat ** 2, 0.0))
        inside = _approach_mask(run, dm["t"]) & (axial > 0.05)
        if kos:
            inside &= rng < 1.2 * kos
        fig, axes = _figure(12, 3.8)
        ax = axes[0][0]
        if inside.any():
            ax.plot(axial[inside], lat[inside], color="C0", lw=1, label="lateral offset (DOCKING_MONITOR)")
            dd = np.geomspace(max(float(axial[inside].min()), 0.05), max(kos, float(axial[inside].max())), 200)
            ax.plot(dd, np.maximum(dd * tan_c, floor), color="C2", label="corridor bound")
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=0.01)
            ax.set_ylim(bottom=0.0)
            ax.invert_xaxis()
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "the chaser never came inside the keep-out sphere", ha="center",
                    transform=ax.transAxes)
        ax.set_xlabel("axial distance port to port [m] (log)")
        ax.set_ylabel("lateral offset [m]")
        ax.grid(alpha=0.3, which="both")
        ax.set_title("approach corridor")
        sec.images.append(("Lateral offset from the docking axis against the corridor cone inside the "
                           "keep-out sphere.", _png(fig)))
    return sec


def section_range(run: RunData) -> Section:
    sec = Section("range", "Range and range rate")
    if not run.has("DOCKING_MONITOR"):
        return _absent(sec, "DOCKING_MONITOR")
    dm = run.packets["DOCKING_MONITOR"]
    t, rng, rdot = dm["t"], dm["range_m"].astype(float), dm["range_rate_mps"].astype(float)
    lat = dm["lateral_m"].astype(float)
    axial = np.sqrt(np.maximum(rng ** 2 - lat ** 2, 0.0))
    spans = _mode_spans(run)
    holds = run.gnc.get("guidance", {}).get("hold_distances_m", [])
    d = run.gnc.get("docking", {})
    prof_r, prof_v = _profile(run.gnc)
    fig, axes = _figure(12, 8.5, 3, 1)
    ax = axes[0][0]
    _shade_modes(ax, spans, legend=True)
    nav_ok = _approach_mask(run, t) | (t >= max((a for a, _, m in spans if m == "DOCKED"), default=np.inf))
    rng = np.where(nav_ok, rng, np.nan)  # before the first valid navigation solution the range is meaningless
    rdot = np.where(nav_ok, rdot, np.nan)
    ax.plot(t, rng, color="C0", lw=1.2, label="range")
    for h in holds:
        if h < 1.5 * rng.max():
            ax.axhline(h, color="C4", lw=0.8, ls="--")
            ax.annotate(f"hold {h:g} m", (t[0], h), fontsize=7, color="C4", va="bottom")
    ax.set_yscale("log")
    ax.set_ylabel("port-to-port range [m]")
    ax.legend(fontsize=7, ncol=6, loc="upper right")
    ax.grid(alpha=0.3, which="both")
    ax = axes[1][0]
    _shade_modes(ax, spans)
    ax.plot(t, -rdot, color="C0", lw=1, label="closing rate (-range rate)")
    if len(prof_r):
        ax.plot(t, np.where(nav_ok, np.interp(axial, prof_r, prof_v), np.nan), color="C2", lw=1,
                label="speed profile at this distance")
    ax.set_ylabel("closing rate [m/s]")
    ax.set_xlabel("mission time [s]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[2][0]
    close = _closing_mask(run, t) & (axial > 0.05)
    ax.plot(axial[close], -rdot[close], color="C0", lw=1, label="closing rate")
    if len(prof_r):
        dd = np.geomspace(0.1, max(float(axial[close].max()) if close.any() else 1.0, 1.0), 300)
        v = np.interp(dd, prof_r, prof_v)
        ax.plot(dd, v, color="C2", lw=1.5, label="speed profile")
        f, m = float(d.get("closing_rate_factor", 0.0)), float(d.get("closing_rate_margin_mps", 0.0))
        if f:
            ax.plot(dd, f * v + m, color="C3", lw=1, ls="--", label=f"abort: {f:g} x profile + {m:g} m/s")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("axial distance port to port [m] (log)")
    ax.set_ylabel("closing rate [m/s]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    sec.images.append(("Range (top, background: vehicle mode), closing rate in time (middle) and against "
                       "distance with the speed profile and the closing-rate abort threshold (bottom, only while "
                       f"in {', '.join(PROFILE_MODES)}).", _png(fig)))
    return sec


def section_attitude(run: RunData) -> Section:
    sec = Section("attitude", "Attitude error and rates")
    if not run.has("ATT_STATE"):
        return _absent(sec, "ATT_STATE")
    att = run.packets["ATT_STATE"]
    t = att["t"]
    err = np.degrees(att["att_err_rad"].astype(float))
    rate = np.degrees(att["rate_err_rad_s"].astype(float))
    spans = _mode_spans(run)
    limit = run.gnc.get("docking", {}).get("attitude_error_limit_deg")
    env = run.summary.get("docking", {}).get("rates_deg_s", {}).get("limit")
    fig, axes = _figure(12, 6.5, 2, 1, sharex=True)
    ax = axes[0][0]
    _shade_modes(ax, spans)
    for k in range(3):
        ax.plot(t, err[:, k], lw=0.9, label=f"axis {k + 1}")
    ax.plot(t, np.linalg.norm(err, axis=1), color="k", lw=0.8, label="norm")
    if limit:
        ax.axhline(limit, color="C3", ls="--", lw=1, label=f"abort limit {limit:g} deg (inside the KOS)")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylabel("attitude error [deg]")
    ax.legend(fontsize=8, ncol=5)
    ax.grid(alpha=0.3)
    ax = axes[1][0]
    _shade_modes(ax, spans)
    for k in range(3):
        ax.plot(t, rate[:, k], lw=0.9, label=f"axis {k + 1}")
    if env:
        ax.axhline(env, color="C3", ls="--", lw=1, label=f"contact envelope {env:g} deg/s")
        ax.axhline(-env, color="C3", ls="--", lw=1)
    ax.set_yscale("symlog", linthresh=0.001)
    ax.set_ylabel("rate error [deg/s]")
    ax.set_xlabel("mission time [s]")
    ax.legend(fontsize=8, ncol=4)
    ax.grid(alpha=0.3)
    sec.images.append(("Attitude error (2 x vector part of q_BR) and rate error from ATT_STATE, body axes.",
                       _png(fig)))
    return sec


def section_propulsion(run: RunData) -> Section:
    sec = Section("propulsion", "Thruster activity and propellant")
    if not run.has("PROPULSION"):
        return _absent(sec, "PROPULSION")
    pr = run.packets["PROPULSION"]
    t = pr["t"]
    spans = _mode_spans(run)
    fig, axes = _figure(12, 7.5, 3, 1, sharex=True)
    ax = axes[0][0]
    _shade_modes(ax, spans, legend=True)
    ax.plot(t, pr["prop_used_kg"], color="C0", label="flight estimate (PROPULSION)")
    truth = run.summary.get("docking", {}).get("propellant_used_kg")
    if truth is not None:
        ax.plot(t[-1], truth, "D", color="C3", label=f"truth at the end: {truth:.2f} kg")
    ax.set_ylabel("propellant used [kg]")
    ax.legend(fontsize=7, ncol=6)
    ax.grid(alpha=0.3)
    ax = axes[1][0]
    dt = np.diff(t)
    ok = dt > 0
    for key, label, c in (("trans_on_time_s", "translation", "C0"), ("att_on_time_s", "attitude", "C1")):
        duty = np.diff(pr[key].astype(float))[ok] / dt[ok]
        ax.plot(t[1:][ok], duty, lw=0.8, color=c, label=f"{label} thrusters")
    ax.set_ylabel("on-time per second\n(summed over thrusters)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[2][0]
    pulses = np.diff(pr["pulses"].astype(float))[ok] / dt[ok]
    ax.plot(t[1:][ok], pulses, lw=0.8, color="C2", label="pulses per second")
    ax.set_ylabel("pulses / s")
    if run.has("GUIDANCE_STATE"):
        g = run.packets["GUIDANCE_STATE"]
        ax2 = ax.twinx()
        ax2.plot(g["t"], g["dv_total_mps"], color="C4", lw=1.2, label="guidance delta-v commanded")
        ax2.set_ylabel("delta-v [m/s]", color="C4")
        ax2.legend(fontsize=8, loc="upper center")
    ax.set_xlabel("mission time [s]")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    sec.images.append(("Propellant used, thruster on-time rate and pulse rate (PROPULSION), and the guidance "
                       "delta-v (GUIDANCE_STATE).", _png(fig)))
    return sec


def section_thermal(run: RunData) -> Section:
    sec = Section("thermal", "Thermal zones")
    if not run.has("THERMAL_ZONES"):
        return _absent(sec, "THERMAL_ZONES")
    tz = run.packets["THERMAL_ZONES"]
    t = tz["t"]
    zones = run.thermal.get("zone", [])
    n = tz["temp_C"].shape[1]
    fig, axes = _figure(12, 2.2 * (n + 1), n + 1, 1, sharex=True)
    for z in range(n):
        cfg = zones[z] if z < len(zones) else {}
        ax = axes[z][0]
        ax.plot(t, tz["temp_C"][:, z], color="C0", lw=1, label="temperature")
        ax.plot(t, tz["setpoint_C"][:, z], color="C2", lw=0.8, ls="--", label="setpoint")
        lo, hi = cfg.get("limit_lo_C"), cfg.get("limit_hi_C")
        for lim in (lo, hi):
            if lim is not None:
                ax.axhline(lim, color="C3", lw=1, ls=":")
        if lo is not None and hi is not None:
            ax.axhspan(lo, hi, color="C2", alpha=0.06, lw=0, label=f"limits {lo:g} .. {hi:g} C")
        ax.set_ylabel(f"{cfg.get('name', f'zone {z}')}\n[degC]", fontsize=8)
        ax2 = ax.twinx()
        ax2.fill_between(t, tz["duty"][:, z], step="post", color="C1", alpha=0.25, lw=0)
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("duty", color="C1", fontsize=8)
        ax.set_zorder(ax2.get_zorder() + 1)  # temperature over the duty shading
        ax.patch.set_visible(False)
        ax.grid(alpha=0.3)
        if z == 0:
            ax.legend(fontsize=7, ncol=3, loc="upper left")
    ax = axes[n][0]
    ax.plot(t, tz["power_W"], color="C1", label="heater power")
    ax.plot(t, tz["power_limit_W"], color="C3", ls="--", label="power budget")
    ax.set_ylabel("[W]")
    ax.set_xlabel("mission time [s]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    sec.images.append(("Each zone's temperature with its limits (thermal.toml) and setpoint; shaded: heater "
                       "duty (right axis); bottom: total heater power against the budget.", _png(fig)))
    return sec


def section_timing(run: RunData) -> Section:
    from ground.timing import plot_groups, run_timing

    sec = Section("timing", "Task timing")
    if not run.has("EXEC_TASK_TIMING"):
        sec.notes.append("No EXEC_TASK_TIMING packets in this archive.")
    rep = run_timing(run.run_dir)
    sec.notes += rep["notes"]
    if rep["tasks"]:
        with tempfile.TemporaryDirectory() as tmp:
            for path in plot_groups(rep, tmp):
                sec.images.append((f"Rate group {path.stem.removeprefix('timing_')}: execution time per task "
                                   "(dashed: budget).", path.read_bytes()))
        rows = [(r["task"], r["group"], r["calls"], f"{r['budget_us']:g}", f"{r['p50_us']:.1f}",
                 f"{r['p99_us']:.1f}", f"{r['max_us']:.1f}", r["overruns"], r["errors"]) for r in rep["tasks"]]
        sec.html += _table(["task", "group", "calls", "budget us", "p50 us", "p99 us", "max us", "overruns",
                            "errors"], rows)
    st = run.summary.get("timing", {})
    if st:
        sec.html += _table(["executive", "value"], [
            ("frames", st.get("frames")), ("cycle slips", st.get("cycle_slips")),
            ("skipped slots", st.get("skipped_slots")), ("frame overruns", st.get("frame_overruns")),
            ("cpu load [%]", _num(st.get("cpu_load_pct"), "{:.2f}"))])
    return sec


_NUMBERS = re.compile(r"[-+]?\d+(\.\d+)?")


def section_events(run: RunData) -> Section:
    sec = Section("events", "Event timeline")
    if not run.has("EVENT"):
        return _absent(sec, "EVENT")
    ev = run.packets["EVENT"]
    t = ev["t"]
    sev = [SEVERITIES.get(int(s), str(s)) for s in ev["severity"]]
    texts = [bytes(x).rstrip(b"\0").decode("ascii", "replace") for x in ev["text"]]
    names = {EXECUTIVE_SOURCE_ID: "executive"}
    if run.has("EXEC_TASK_TIMING"):
        tt = run.packets["EXEC_TASK_TIMING"]
        for i, name in zip(tt["task_id"], tt["task_name"], strict=True):
            names[int(i)] = bytes(name).rstrip(b"\0").decode("ascii", "replace")
    src = [names.get(int(s), f"task {int(s)}") for s in ev["source_id"]]
    order = sorted(set(src))
    ypos = {s: k for k, s in enumerate(order)}
    fig, axes = _figure(12, 1.2 + 0.32 * len(order))
    ax = axes[0][0]
    _shade_modes(ax, _mode_spans(run), legend=True)
    for level, color in SEVERITY_COLORS.items():
        idx = [i for i, s in enumerate(sev) if s == level]
        if idx:
            ax.scatter(t[idx], [ypos[src[i]] for i in idx], s=14 if level in ("DEBUG", "WARNING") else 30,
                       color=color, marker="|" if level in ("DEBUG", "WARNING") else "o", label=level, zorder=3)
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_xlabel("mission time [s]")
    ax.legend(fontsize=7, ncol=8, loc="upper center", bbox_to_anchor=(0.5, -0.25 if len(order) < 6 else -0.12))
    ax.grid(alpha=0.3, axis="x")
    sec.images.append(("Every EVENT packet by source and severity (background: vehicle mode).", _png(fig)))
    groups: dict[tuple, list] = {}
    for i, text in enumerate(texts):
        key = (sev[i], src[i], _NUMBERS.sub("#", text))
        groups.setdefault(key, []).append(i)
    rows = []
    for (level, source, _), idx in sorted(groups.items(), key=lambda kv: t[kv[1][0]]):
        rows.append((f"{t[idx[0]]:.1f}", f"{t[idx[-1]]:.1f}" if len(idx) > 1 else "", len(idx), level, source,
                     texts[idx[0]]))
    sec.html += ("<p>Events grouped by severity, source and text with the numbers masked; the text shown is "
                 "the first of each group. Every event is in events.log.</p>")
    sec.html += _table(["first t [s]", "last t [s]", "count", "severity", "source", "text (first)"], rows,
                       row_class=lambda r: r[3].lower())
    return sec


def _envelope_items(dock: dict) -> list[tuple[str, list[float], list, bool]]:
    """(quantity, values, limit, ok) of each contact quantity in summary.json's docking section."""
    out = []
    for name, entry in dock.items():
        if isinstance(entry, dict) and {"value", "limit", "ok"} <= set(entry):
            vals = entry["value"] if isinstance(entry["value"], list) else [entry["value"]]
            out.append((name, [float(v) for v in vals], entry["limit"], bool(entry["ok"])))
    return out


def section_docking(run: RunData) -> Section:
    sec = Section("docking", "Docking contact against the envelope")
    dock = run.summary.get("docking")
    if not dock:
        sec.notes.append("No docking section in summary.json (no truth model flew, or no summary).")
        return sec
    if not dock.get("contact"):
        sec.notes.append(f"No contact in this run (stop reason: {run.summary.get('stop_reason')}; captured: "
                         f"{dock.get('captured')}, collided: {dock.get('collided')}).")
        return sec
    items = _envelope_items(dock)
    verdict = "CAPTURED" if dock.get("captured") else "NOT CAPTURED (" + ", ".join(dock.get("failed_limits", [])) + ")"
    sec.html += f"<p class='{'ok' if dock.get('captured') else 'bad'}'>Contact at t = {dock.get('time_s', 0):.2f} s: " \
                f"<b>{html.escape(verdict)}</b></p>"
    fig, axes = _figure(12, 0.6 * len(items) + 1.0, len(items), 1)
    for ax, (name, vals, limit, ok) in zip(axes[:, 0], items, strict=True):
        if isinstance(limit, list):
            lo, hi = float(limit[0]), float(limit[1])
            half = 0.5 * (hi - lo)
            band = (lo - 0.5 * half, hi + 0.5 * half)
            ax.axvspan(lo, hi, color="C2", alpha=0.25, lw=0)
            design = contact_speed_design()
            if design:  # the guidance aims at the profile's contact speed, not the band's middle
                ax.axvspan(*design, color="C2", alpha=0.25, lw=0)
        else:
            lim = float(limit)
            signed = name not in UNSIGNED_CONTACT
            lo = -lim if signed else 0.0
            band = (lo - 0.15 * lim, 1.15 * lim)
            ax.axvspan(lo, lim, color="C2", alpha=0.25, lw=0)
            ax.axvspan(DESIGN_FRACTION * lo, DESIGN_FRACTION * lim, color="C2", alpha=0.25, lw=0)
        xs = np.clip(vals, band[0], band[1])
        ax.plot(xs, np.zeros(len(xs)), "o" if ok else "X", color="k" if ok else "C3", ms=7)
        ax.set_xlim(*band)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    axes[0][0].set_title("green: envelope; darker: design target (half of each limit; axial rate: the profile's "
                         "contact speed +- tolerance)\nmarker: contact value (X: out of the envelope, clipped to the "
                         "axis)", fontsize=9)
    sec.images.append(("Contact quantities (summary.json, truth) on their allowed ranges.", _png(fig)))
    rows = [(name, ", ".join(f"{v:.4g}" for v in vals),
             " .. ".join(f"{x:g}" for x in limit) if isinstance(limit, list)
             else f"<= {limit:g}" if name in UNSIGNED_CONTACT else f"|value| <= {limit:g}",
             "ok" if ok else "OUT") for name, vals, limit, ok in items]
    sec.html += _table(["quantity", "value", "limit", "verdict"], rows,
                       row_class=lambda r: "ok" if r[3] == "ok" else "bad")
    return sec


SECTIONS = (section_overview, section_docking, section_trajectory, section_range, section_attitude,
            section_propulsion, section_thermal, section_timing, section_events)


# ---------------------------------------------------------------------------------------------- HTML


def _num(v, fmt: str):
    return None if v is None else fmt.format(v)


def _table(header, rows, row_class=None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for r in rows:
        cls = f" class='{row_class(r)}'" if row_class else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-top:.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f3f3f3}tr.bad td,p.bad{color:#b00}p.ok{color:#070}tr.critical td,tr.error td{color:#b00}
tr.warning td{color:#a60}figure{margin:.5em 0}figcaption{font-size:.85em;color:#555}
img{max-width:100%}.note{background:#fff7e0;padding:4px 8px;border-left:3px solid #e0b000}
nav a{margin-right:1em}"""


def render_html(run: RunData, sections: list[Section]) -> str:
    s = run.summary
    title = f"Run report: {s.get('scenario', run.run_dir.name)} (seed {s.get('seed', '?')})"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Run folder <code>{html.escape(str(run.run_dir.resolve()))}</code>. Plots are drawn from "
             f"<code>{ARCHIVE_NAME}</code> (what the ground received); contact values and truth propellant "
             "come from summary.json.</p><nav>"]
    parts += [f"<a href='#{sec.key}'>{html.escape(sec.title)}</a>" for sec in sections]
    parts.append("</nav>")
    for sec in sections:
        parts.append(f"<section id='{sec.key}'><h2>{html.escape(sec.title)}</h2>")
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in sec.notes]
        for caption, png in sec.images:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append(sec.html + "</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def build_sections(run: RunData) -> list[Section]:
    """Every section; one that fails to draw becomes a note with the error, the others still come out."""
    out = []
    for builder in SECTIONS:
        try:
            out.append(builder(run))
        except Exception as err:  # a report with one broken plot beats no report
            log.exception("report: section %s failed", builder.__name__)
            sec = Section(builder.__name__.removeprefix("section_"), builder.__name__.removeprefix("section_"))
            sec.notes.append(f"This section failed to draw: {type(err).__name__}: {err}")
            out.append(sec)
    return out


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for a run folder from its archive and summary; return its path.

    Raises
    ------
    ReportError
        when the run folder or its telemetry archive is missing
    """
    import matplotlib

    matplotlib.use("Agg")
    run = load_run(run_dir)
    page = render_html(run, build_sections(run))
    path = Path(out) if out is not None else run.run_dir / REPORT_NAME
    path.write_text(page)
    return path


def write_pngs(run_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Every plot of the report as a separate PNG in ``out_dir`` (for review and for other documents)."""
    import matplotlib

    matplotlib.use("Agg")
    run = load_run(run_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sec in build_sections(run):
        for k, (_, png) in enumerate(sec.images):
            p = out_dir / f"{sec.key}_{k}.png"
            p.write_bytes(png)
            written.append(p)
    return written


# ---------------------------------------------------------------------------------------------- CLI


def register(sub) -> None:
    """``qz report RUN_DIR``."""
    p = sub.add_parser("report", help="(re)build report.html of a run folder from its telemetry archive",
                       description="Draw the run report (trajectory, range and speed profile, attitude, thrusters "
                                   "and propellant, thermal zones, task timing, events, docking contact) from "
                                   "RUN_DIR/telemetry.ccsds and summary.json into RUN_DIR/report.html.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by qz sim / qz hil / qz mc --rerun")
    p.add_argument("--out", default=None, help="HTML file to write (default RUN_DIR/report.html)")
    p.add_argument("--png-dir", default=None, help="also write every plot as a PNG into this folder")
    p.set_defaults(func=_report_cmd)


def _report_cmd(args) -> int:
    try:
        path = write_report(args.run_dir, args.out)
        if args.png_dir:
            write_pngs(args.run_dir, args.png_dir)
    except ReportError as err:
        print(f"qz report: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


