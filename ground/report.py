"""Run reports: ``report.html`` of a run folder, drawn from its telemetry archive.

The plots show what the ground saw: every curve comes from the packets in ``telemetry.ccsds``
(bulk-decoded with :func:`telemetry.archive.scan_apid`), never from the simulation's memory. The
run's ``summary.json`` adds what only the truth model knows (docking contact values, truth
propellant) and the timing statistics. Reference geometry (hold points, keep-out sphere, approach
corridor, speed profile, abort thresholds) comes from ``fsw/config/gnc.toml``, thermal zone limits
from ``fsw/config/thermal.toml``, the chaser's docking port from ``fsw/config/vehicle.toml``, as the
flight software reads them.

Each section builds matplotlib figures (kept in :class:`Section`, so tests read their data); the page
embeds them as PNG (base64) and is self-contained. A section whose packets are absent says so; a
section that fails to draw shows the error and the others are still written.

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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import fsw
from ground.campaign import contact_speed_design
from telemetry.archive import records_to_columns, scan_apid
from telemetry.dictionary import EVENT_SOURCES, GUIDANCE_PHASES, MODES, SEVERITIES, event_name
from telemetry.units import NS_PER_S

log = logging.getLogger(__name__)

CONFIG_DIR = Path(fsw.__file__).resolve().parent / "config"
ARCHIVE_NAME = "telemetry.ccsds"
REPORT_NAME = "report.html"
PACKETS = ("NAV_STATE", "ATT_STATE", "GUIDANCE_STATE", "DOCKING_MONITOR", "PROPULSION", "THERMAL_ZONES",
           "EXEC_STATUS", "EXEC_TASK_TIMING", "EVENT", "HK_STATUS", "FAR_RANGE")
DPI = 90
DESIGN_FRACTION = 0.5  # docs/reference.md: GNC design target is 3-sigma within half of each limit
MODE_CODE = {name: code for code, name in MODES.items()}
PHASE_CODE = {name: code for code, name in GUIDANCE_PHASES.items()}
# Background shading per vehicle mode, and the line colour of a trajectory flown in that mode.
MODE_COLORS = {"STANDBY": "#eeeeee", "PHASING": "#dde7f5", "HOMING": "#d6ecf3", "CLOSING": "#e3f1dc",
               "FINAL_APPROACH": "#fdf1cf", "DOCKED": "#d5dcf0", "HOLD": "#ece2f3", "RETREAT": "#f8dfc9",
               "CAM": "#f6cccc", "SAFE": "#f0c0c0"}
MODE_LINES = {"STANDBY": "0.5", "PHASING": "C9", "HOMING": "C0", "CLOSING": "C2", "FINAL_APPROACH": "C1",
              "DOCKED": "k", "HOLD": "C4", "RETREAT": "C5", "CAM": "C3", "SAFE": "m"}
UNSIGNED_CONTACT = ("lateral_rate_mps", "lateral_misalignment_m")  # magnitudes; the other limits bound |value|
# The modes in which the speed profile applies: those of the docking monitor's closing-rate check
# (fsw/apps/docking.py _CLOSING; a test holds the two equal). Transfers, holds, retreats and a CAM are not
# flown on the profile and are not drawn against it.
PROFILE_MODES = ("CLOSING", "FINAL_APPROACH")
# What the vehicle is doing, from the guidance phase (mode CAM overrides): (label, line colour).
REGIMES = {"transfer": ("CW transfer", "C0"), "closing": ("closing on the speed profile", "C2"),
           "hold": ("station keeping / go-no-go", "C4"), "retreat": ("retreat", "C5"),
           "cam": ("collision-avoidance manoeuvre (CAM)", "C3")}
_PHASE_REGIME = {"TRANSFER": "transfer", "CLOSING": "closing", "FINAL": "closing", "STATION_KEEP": "hold",
                 "GO_NOGO": "hold", "IDLE": "hold", "RETREAT": "retreat", "CAM": "cam"}
_MODE_REGIME = {"HOMING": "transfer", "PHASING": "transfer", "CLOSING": "closing", "FINAL_APPROACH": "closing",
                "HOLD": "hold", "STANDBY": "hold", "SAFE": "hold", "RETREAT": "retreat", "CAM": "cam"}
ZOOMS_M = (400.0, 20.0)  # [m] the closer trajectory views: the inner hold points, then the last metres
ENVELOPE_BINS = 400  # time bins of the attitude envelopes (min/max per bin)
LIMIT_IN_VIEW = 4.0  # a limit more than this many times the largest error is stated, not drawn in scale
SEVERITY_COLORS = {"DEBUG": "0.6", "INFO": "C0", "WARNING": "C1", "ERROR": "C3", "CRITICAL": "m"}
BODY_AXES = ("x (to the port)", "y", "z")


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
    flight: dict = field(default_factory=dict)  # flight.toml (schedule order names the event sources)

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
    return RunData(run_dir, summary, packets, damage, gnc, thermal, C_RL.T @ port_B, notes,
                   _read_toml(CONFIG_DIR / "flight.toml"))


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


def _held(t_src: np.ndarray, values: np.ndarray, t: np.ndarray, missing=-1) -> np.ndarray:
    """The value of a 1 Hz housekeeping field in force at each time ``t`` (last sample at or before it)."""
    k = np.searchsorted(t_src, t, side="right") - 1
    out = np.asarray(values)[np.maximum(k, 0)].astype(int)
    return np.where(k >= 0, out, missing)


def _modes_at(run: RunData, t: np.ndarray) -> np.ndarray:
    """Vehicle mode code (HK_STATUS) at each time, -1 where unknown."""
    if not run.has("HK_STATUS"):
        return np.full(len(t), -1)
    hk = run.packets["HK_STATUS"]
    return _held(hk["t"], hk["mode"], t)


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


def _mode_changes(run: RunData) -> list[tuple[float, str]]:
    """(time, new mode) of every mode change seen in HK_STATUS."""
    return [(t0, name) for t0, _, name in _mode_spans(run)[1:]]


def _docked_at(run: RunData) -> float | None:
    return next((t0 for t0, _, name in _mode_spans(run) if name == "DOCKED"), None)


def _shade_modes(ax, spans) -> None:
    for t0, t1, name in spans:
        ax.axvspan(t0, t1, color=MODE_COLORS.get(name, "#f4f4f4"), lw=0, zorder=0)


def _mode_legend(fig, spans, extra=()) -> None:
    """One legend above the figure: the mode shading (and ``extra`` handles), never over the data."""
    from matplotlib.patches import Patch

    names = list(dict.fromkeys(name for _, _, name in spans))
    handles = [Patch(color=MODE_COLORS.get(n, "#f4f4f4"), label=f"mode {n}") for n in names] + list(extra)
    if handles:
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 7), fontsize=8,
                   frameon=False)


def _mark_mode_changes(ax, changes, label: bool = False) -> None:
    """A dotted line at each mode change; with ``label``, the new mode's name along it."""
    for t0, name in changes:
        ax.axvline(t0, color=MODE_LINES.get(name, "0.4"), lw=0.8, ls=":", zorder=1, gid="mode-change")
        if label:
            ax.annotate(f" {name}", (t0, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top",
                        ha="right", fontsize=7, color=MODE_LINES.get(name, "0.4"))


def _legend_right(ax, handles=None, **kw) -> None:
    """The axes' legend outside it, on the right: it never covers data."""
    kw = {"fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0), **kw}
    if handles is None:
        ax.legend(**kw)
    else:
        ax.legend(handles=handles, **kw)


def _approach_mask(run: RunData, t: np.ndarray) -> np.ndarray:
    """True at times with a valid navigation solution and before the vehicle docked (geometry meaningful)."""
    ok = np.ones(len(t), bool)
    if run.has("NAV_STATE"):
        nav = run.packets["NAV_STATE"]
        ok &= _held(nav["t"], nav["valid"], t, missing=0).astype(bool)
    docked = _docked_at(run)
    if docked is not None:
        ok &= t < docked
    return ok


def _profile_mask(run: RunData, t: np.ndarray) -> np.ndarray:
    """Approach times in the modes where the speed profile applies (PROFILE_MODES)."""
    codes = [MODE_CODE[m] for m in PROFILE_MODES]
    return _approach_mask(run, t) & np.isin(_modes_at(run, t), codes)


def _regimes_at(run: RunData, t: np.ndarray) -> np.ndarray:
    """REGIMES key at each time (object array; "" where none applies: docked, unknown)."""
    modes = _modes_at(run, t)
    out = np.array([_MODE_REGIME.get(MODES.get(int(m), ""), "") for m in modes], dtype=object)
    if run.has("GUIDANCE_STATE"):
        g = run.packets["GUIDANCE_STATE"]
        phases = _held(g["t"], g["phase"], t)
        by_phase = np.array([_PHASE_REGIME.get(GUIDANCE_PHASES.get(int(p), ""), "") for p in phases], dtype=object)
        out = np.where(by_phase != "", by_phase, out)
    out[modes == MODE_CODE["CAM"]] = "cam"
    out[modes == MODE_CODE["DOCKED"]] = ""
    return out


def _runs_of(mask: np.ndarray) -> np.ndarray:
    """``mask`` widened by one sample on each side, so that consecutive regimes' lines meet."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    return out


def _profile(gnc: dict) -> tuple[np.ndarray, np.ndarray]:
    g = gnc.get("guidance", {})
    return np.asarray(g.get("profile_range_m", []), float), np.asarray(g.get("profile_speed_mps", []), float)


def _abort_threshold(gnc: dict, v_profile: np.ndarray) -> tuple[np.ndarray, str] | None:
    d = gnc.get("docking", {})
    f, m = float(d.get("closing_rate_factor", 0.0)), float(d.get("closing_rate_margin_mps", 0.0))
    if not f:
        return None
    return f * v_profile + m, f"closing-rate abort: {f:g} x profile + {m:g} m/s"


def envelope(t: np.ndarray, y: np.ndarray, bins: int = ENVELOPE_BINS):
    """(bin centres, min, max, mean) of ``y`` in ``bins`` equal time bins (empty bins dropped)."""
    edges = np.linspace(float(t[0]), float(t[-1]) + 1e-9, bins + 1)
    k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    n = np.bincount(k, minlength=bins)
    lo = np.full(bins, np.inf)
    hi = np.full(bins, -np.inf)
    np.minimum.at(lo, k, y)
    np.maximum.at(hi, k, y)
    mean = np.bincount(k, weights=y, minlength=bins) / np.maximum(n, 1)
    keep = n > 0
    centre = 0.5 * (edges[:-1] + edges[1:])
    return centre[keep], lo[keep], hi[keep], mean[keep]


# ---------------------------------------------------------------------------------------------- sections


@dataclass
class Section:
    key: str
    title: str
    figures: list[tuple[str, object]] = field(default_factory=list)  # (caption, matplotlib Figure)
    html: str = ""
    notes: list[str] = field(default_factory=list)


def _absent(sec: Section, *names: str) -> Section:
    sec.notes.append(f"No {' / '.join(names)} packets in this archive: nothing to draw.")
    return sec


def section_overview(run: RunData) -> Section:
    sec = Section("overview", "Run")
    s = run.summary
    dock = s.get("docking") or {}
    rows = [("scenario", s.get("scenario")), ("seed", s.get("seed")), ("stop reason", s.get("stop_reason")),
            ("mission time [s]", _num(s.get("mission_time_s"), "{:.1f}")),
            ("wall time [s]", _num(s.get("wall_time_s"), "{:.1f}")),
            ("speed factor", _num(s.get("speed_factor"), "{:.0f}x")), ("final mode", s.get("final_mode")),
            ("captured", dock.get("captured")), ("contact at [s]", _num(dock.get("time_s"), "{:.1f}")),
            ("collided", dock.get("collided")),
            ("propellant used, truth [kg]", _num(dock.get("propellant_used_kg"), "{:.3f}")),
            ("propellant used, flight estimate [kg]", _num(s.get("propellant_flight_estimate_kg"), "{:.3f}")),
            ("CAM trigger", (s.get("guidance") or {}).get("cam_trigger"))]
    fdir = (s.get("fdir") or {}).get("fired")
    if fdir:
        rows.append(("FDIR responses fired", ", ".join(f"{k} x{v}" for k, v in fdir.items())))
    sec.html += _table(["item", "value"], [(k, v) for k, v in rows if v is not None])
    spans = _mode_spans(run)
    if spans:
        sec.html += "<h3>Vehicle modes (HK_STATUS)</h3>" + _table(
            ["mode", "from t [s]", "to t [s]", "duration [s]"],
            [(name, f"{t0:.0f}", f"{t1:.0f}", f"{t1 - t0:.0f}") for t0, t1, name in spans])
    counts = [(name, len(run.packets[name]["t_ns"]), run.damage[name]) for name in PACKETS]
    sec.html += "<h3>Packets decoded from the archive</h3>" + _table(
        ["packet", "count", "damaged ranges"], counts)
    sec.notes += run.notes
    return sec


@dataclass
class _Geometry:
    """Reference geometry of the approach (gnc.toml), in the LVLH frame centred on the station port."""

    kos_m: float
    tan_cone: float
    half_angle_deg: float
    floor_m: float
    axis: np.ndarray
    holds: list[float]
    semi_m: list[float] | None

    @classmethod
    def of(cls, gnc: dict) -> _Geometry:
        d = gnc.get("docking", {})
        half = float(d.get("corridor_half_angle_deg", 0.0))
        return cls(float(d.get("kos_radius_m", 0.0)), math.tan(math.radians(half)), half,
                   float(d.get("corridor_min_radius_m", 0.0)),
                   np.asarray(gnc.get("station", {}).get("docking_axis_LVLH", [0.0, -1.0, 0.0]), float),
                   [float(h) for h in gnc.get("guidance", {}).get("hold_distances_m", [])],
                   d.get("ellipsoid_semi_axes_m"))


VIEW_RATIO = 0.62  # height / width of a trajectory view's data box (two views side by side, 4 in high)
_VIEW_AXES = ((0, "x radial (R-bar) [m]", "in-plane (y, x)"), (2, "z cross-track (H-bar) [m]", "out-of-plane (y, z)"))


def _trajectory_view(ax, geo: _Geometry, p: np.ndarray, modes: np.ndarray, valid: np.ndarray, j: int,
                     reach_m: float | None, docked: bool) -> None:
    """One equal-aspect view of the chaser's port: along-track (y) across, ``j`` (x or z) up."""
    ang = np.linspace(0.0, 2.0 * np.pi, 721)
    if reach_m is None:  # the whole run: the data and the port
        y0, y1 = min(float(p[:, 1].min()), 0.0), max(float(p[:, 1].max()), 0.0)
        v0, v1 = min(float(p[:, j].min()), 0.0), max(float(p[:, j].max()), 0.0)
        reach = max(y1 - y0, v1 - v0, 1.0)
    else:  # the last reach_m metres along the docking axis
        y0, y1 = sorted((geo.axis[1] * reach_m, 0.0))
        v0 = v1 = 0.0
        reach = reach_m
    # equal scales: the limits fill a box of VIEW_RATIO (height / width), the box then fits the panel
    pad = 0.06 * reach
    width = max(y1 - y0, (v1 - v0) / VIEW_RATIO) + 2 * pad
    yc, vc = 0.5 * (y0 + y1), 0.5 * (v0 + v1)
    xlim = (yc - 0.5 * width, yc + 0.5 * width)
    ylim = (vc - 0.5 * VIEW_RATIO * width, vc + 0.5 * VIEW_RATIO * width)
    if geo.semi_m and reach_m is None and reach > 0.5 * min(geo.semi_m):
        ax.plot(geo.semi_m[1] * np.cos(ang), geo.semi_m[j] * np.sin(ang), color="0.5", lw=1, ls=":",
                label="approach ellipsoid")
    if geo.kos_m:
        ax.plot(geo.kos_m * np.cos(ang), geo.kos_m * np.sin(ang), color="C3", lw=1, ls="--",
                label=f"keep-out sphere {geo.kos_m:g} m")
        dist = np.concatenate(([0.0], np.geomspace(1e-3, geo.kos_m, 400)))
        lat = np.maximum(dist * geo.tan_cone, geo.floor_m)
        ax.fill_between(dist * geo.axis[1], -lat, lat, color="0.5", alpha=0.12, lw=0)
        for sgn in (1, -1):
            ax.plot(dist * geo.axis[1], sgn * lat, color="0.35", lw=0.9,
                    label=f"corridor {geo.half_angle_deg:g} deg (floor {geo.floor_m:g} m)" if sgn > 0 else None)
    for name in dict.fromkeys(MODES.get(int(m), "?") for m in modes):
        sel = _runs_of(modes == MODE_CODE.get(name, -2))
        ax.plot(np.where(sel, p[:, 1], np.nan), np.where(sel, p[:, j], np.nan), color=MODE_LINES.get(name, "0.3"),
                lw=1.3, label=f"chaser port in {name}", gid="trajectory")
    change = np.flatnonzero(np.diff(modes) != 0) + 1
    if len(change):
        ax.plot(p[change, 1], p[change, j], "o", mfc="w", mec="k", ms=5, label="mode change", gid="mode-change")
    if (~valid).any():
        ax.plot(p[~valid, 1], p[~valid, j], ".", color="C3", ms=2, label="navigation invalid")
    shown = [h for h in geo.holds if h <= 1.05 * reach]
    if shown:
        ax.plot([h * geo.axis[1] for h in shown], [0.0] * len(shown), "v", color="C4", ms=7, label="hold points")
        last = None
        for h in sorted(shown, reverse=True):  # the outer ones first: the inner crowd near the port
            if h >= 0.03 * reach and (last is None or last - h >= 0.06 * reach):
                ax.annotate(f"{h:g} m", (h * geo.axis[1], 0), textcoords="offset points", xytext=(0, 8),
                            ha="center", fontsize=8, color="C4")
                last = h
    ax.plot(0, 0, "s", color="k", ms=6, label="station port")
    if docked:
        ax.plot(0, 0, "*", color="gold", mec="k", ms=10, label="docked")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_gid("trajectory-view")
    ax.grid(alpha=0.3)


def section_trajectory(run: RunData) -> Section:
    sec = Section("trajectory", "LVLH trajectory")
    if not run.has("NAV_STATE"):
        return _absent(sec, "NAV_STATE")
    nav = run.packets["NAV_STATE"]
    # the guided point: chaser docking port relative to the station port (the navigation frame origin)
    t_all = nav["t"]
    keep = _approach_mask(run, t_all)
    docked_t = _docked_at(run)
    if docked_t is not None:  # the docked state closes the line at the port
        keep |= t_all >= docked_t
    p = nav["r_LVLH_m"].astype(float)[keep] + run.port_L_m
    valid = nav["valid"].astype(bool)[keep]
    if not len(p):
        sec.notes.append("NAV_STATE never had a valid solution: no trajectory to draw.")
        return sec
    modes = _modes_at(run, t_all[keep])
    geo = _Geometry.of(run.gnc)
    rng = np.linalg.norm(p, axis=1)
    views = [("whole run", None)] + [(f"last {z:g} m", z) for z in ZOOMS_M if rng.min() < z]
    fig, axes = _figure(12, 1.0 + 4.0 * len(views), len(views), 2)
    for row, (title, reach) in enumerate(views):
        for col, (j, label, plane) in enumerate(_VIEW_AXES):
            ax = axes[row][col]
            _trajectory_view(ax, geo, p, modes, valid, j, reach, docked_t is not None)
            ax.set_xlabel("y along-track (V-bar) [m]")
            ax.set_ylabel(label)
            ax.set_title(f"{plane}: {title}", fontsize=10)
    handles, labels = [], []
    for ax in axes.flat:  # one legend for the whole figure, above it
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside upper center", ncol=5, fontsize=8, frameon=False)
    sec.figures.append(("Chaser docking port relative to the station port (navigation estimate, coloured by "
                        "vehicle mode), equal scales on both axes: the whole run, the last "
                        f"{ZOOMS_M[0]:g} m (the inner hold points) and the last {ZOOMS_M[1]:g} m, with the hold "
                        "points, keep-out sphere, approach corridor and the station port.", fig))
    if run.has("DOCKING_MONITOR"):
        sec.figures.append(_corridor_figure(run, geo))
    return sec


def _corridor_figure(run: RunData, geo: _Geometry):
    dm = run.packets["DOCKING_MONITOR"]
    rng, lat = dm["range_m"].astype(float), dm["lateral_m"].astype(float)
    axial = np.sqrt(np.maximum(rng ** 2 - lat ** 2, 0.0))
    inside = _approach_mask(run, dm["t"]) & (axial > 0.05)
    if geo.kos_m:
        inside &= rng < 1.2 * geo.kos_m
    fig, axes = _figure(12, 3.8)
    ax = axes[0][0]
    if inside.any():
        ax.plot(axial[inside], lat[inside], color="C0", lw=1, label="lateral offset (DOCKING_MONITOR)")
        dd = np.geomspace(max(float(axial[inside].min()), 0.05), max(geo.kos_m, float(axial[inside].max())), 200)
        ax.plot(dd, np.maximum(dd * geo.tan_cone, geo.floor_m), color="C2", label="corridor bound")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylim(bottom=0.0)
        ax.invert_xaxis()
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(0.5, 0.5, "the chaser never came inside the keep-out sphere", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("axial distance port to port [m] (log)")
    ax.set_ylabel("lateral offset [m]")
    ax.grid(alpha=0.3, which="both")
    ax.set_title("approach corridor")
    return ("Lateral offset from the docking axis against the corridor cone inside the keep-out sphere.", fig)


def section_range(run: RunData) -> Section:
    sec = Section("range", "Range and closing rate")
    if not run.has("DOCKING_MONITOR"):
        return _absent(sec, "DOCKING_MONITOR")
    dm = run.packets["DOCKING_MONITOR"]
    t, rng, rdot = dm["t"], dm["range_m"].astype(float), dm["range_rate_mps"].astype(float)
    lat = dm["lateral_m"].astype(float)
    axial = np.sqrt(np.maximum(rng ** 2 - lat ** 2, 0.0))
    spans = _mode_spans(run)
    changes = _mode_changes(run)
    holds = run.gnc.get("guidance", {}).get("hold_distances_m", [])
    prof_r, prof_v = _profile(run.gnc)
    docked_t = _docked_at(run)
    nav_ok = _approach_mask(run, t)
    on_profile = _profile_mask(run, t)
    regimes = _regimes_at(run, t)
    closing = np.where(nav_ok, -rdot, np.nan)
    fig = _figure(12, 10.5, 3, 1)[0]
    ax_r, ax_v, ax_d = fig.axes
    ax_v.sharex(ax_r)

    _shade_modes(ax_r, spans)
    _mark_mode_changes(ax_r, changes, label=True)
    ax_r.plot(t, np.where(nav_ok, rng, np.nan), color="C0", lw=1.2, label="range (DOCKING_MONITOR)")
    top = float(np.nanmax(np.where(nav_ok, rng, np.nan))) if nav_ok.any() else 1.0
    for h in holds:
        if h < 1.5 * top:
            ax_r.axhline(h, color="C4", lw=0.8, ls="--")
            ax_r.annotate(f"hold {h:g} m", (t[0], h), fontsize=7, color="C4", va="bottom")
    extra = []
    if docked_t is not None:
        bottom = max(float(np.nanmin(np.where(nav_ok & (rng > 0), rng, np.nan))) if nav_ok.any() else 0.01, 1e-3)
        extra = ax_r.plot([docked_t], [bottom], "*", color="gold", mec="k", ms=13,
                          label=f"docked at t = {docked_t:.0f} s (range held at 0)")
    ax_r.set_yscale("log")
    ax_r.set_ylabel("port-to-port range [m] (log)")
    ax_r.tick_params(labelbottom=False)
    ax_r.grid(alpha=0.3, which="both")

    _shade_modes(ax_v, spans)
    _mark_mode_changes(ax_v, changes)
    for key, (label, color) in REGIMES.items():
        sel = regimes == key
        if sel.any():
            ax_v.plot(t, np.where(_runs_of(sel), closing, np.nan), color=color, lw=1.1, label=label, gid=key,
                      zorder=3)
    if len(prof_r):
        v_prof = np.interp(axial, prof_r, prof_v)
        ax_v.plot(t, np.where(on_profile, v_prof, np.nan), color="k", lw=2.5, alpha=0.3, label="speed profile",
                  gid="profile", zorder=2)
        thr = _abort_threshold(run.gnc, v_prof)
        if thr is not None:
            ax_v.plot(t, np.where(on_profile, thr[0], np.nan), color="C3", lw=1, ls="--", label=thr[1],
                      gid="abort-threshold")
    ax_v.set_gid("closing-rate-time")
    ax_v.set_ylabel("closing rate [m/s]")
    ax_v.set_xlabel("mission time [s]")
    _legend_right(ax_v, fontsize=7)
    ax_v.grid(alpha=0.3)

    close = on_profile & (axial > 0.05)
    ax_d.set_gid("closing-rate-distance")
    if close.any():
        ax_d.plot(axial[close], closing[close], ".", color="C2", ms=2.5, label="closing rate (closing modes)",
                  gid="closing-rate")
        if len(prof_r):
            dd = np.geomspace(float(axial[close].min()), float(axial[close].max()), 300)
            v = np.interp(dd, prof_r, prof_v)
            ax_d.plot(dd, v, color="k", lw=2.5, alpha=0.3, label="speed profile", gid="profile")
            thr = _abort_threshold(run.gnc, v)
            if thr is not None:
                ax_d.plot(dd, thr[0], color="C3", lw=1, ls="--", label=thr[1], gid="abort-threshold")
        ax_d.set_xscale("log")
        ax_d.invert_xaxis()
        _legend_right(ax_d, fontsize=7)
    else:
        ax_d.text(0.5, 0.5, f"never in {' / '.join(PROFILE_MODES)} with a valid navigation solution",
                  ha="center", transform=ax_d.transAxes)
    ax_d.set_xlabel("axial distance port to port [m] (log)")
    ax_d.set_ylabel("closing rate [m/s]")
    ax_d.grid(alpha=0.3, which="both")
    _mode_legend(fig, spans, extra)
    sec.figures.append((
        "Top: range (background: vehicle mode; dotted: mode changes). Middle: closing rate in time, by what "
        f"the vehicle was doing, with the speed profile and the closing-rate abort threshold only in "
        f"{' and '.join(PROFILE_MODES)} (where the docking monitor applies them). Bottom: closing rate against "
        "distance in those modes only.", fig))
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
    env = ((run.summary.get("docking") or {}).get("rates_deg_s") or {}).get("limit")
    binned = len(t) > 3 * ENVELOPE_BINS
    fig, axes = _figure(12, 8.5, 3, 2, sharex=True)
    cols = ((err, "attitude error", "deg", limit, "abort limit inside the keep-out sphere"),
            (rate, "rate error", "deg/s", env, "contact envelope"))
    for c, (y, what, unit, lim, lim_name) in enumerate(cols):
        for k in range(3):
            ax = axes[k][c]
            _shade_modes(ax, spans)
            if binned:
                tc, lo, hi, _ = envelope(t, y[:, k])
                ax.fill_between(tc, lo, hi, step="mid", color=f"C{k}", alpha=0.45, lw=0.6, edgecolor=f"C{k}",
                                label=f"min / max per {(t[-1] - t[0]) / ENVELOPE_BINS:.0f} s bin", gid="envelope")
            else:
                ax.plot(t, y[:, k], color=f"C{k}", lw=0.9, label="ATT_STATE")
            peak = float(np.nanmax(np.abs(y[:, k]))) if np.isfinite(y[:, k]).any() else 0.0
            if lim and peak * LIMIT_IN_VIEW < lim:  # the limit far away would flatten the data: say where it is
                ax.set_ylim(-1.3 * peak, 1.3 * peak)
                ax.text(0.99, 0.96, f"{lim_name} +-{lim:g} {unit}: off the scale, {lim / peak:.0f} x the largest "
                        "|error|", transform=ax.transAxes, ha="right", va="top", fontsize=7, color="C3")
            elif lim:
                ax.axhline(lim, color="C3", ls="--", lw=1, label=f"{lim_name} +-{lim:g} {unit}", gid="limit")
                ax.axhline(-lim, color="C3", ls="--", lw=1)
                ax.set_ylim(-1.1 * max(lim, peak), 1.1 * max(lim, peak))
            ax.set_ylabel(f"axis {BODY_AXES[k]}\n{what} [{unit}]", fontsize=8)
            ax.grid(alpha=0.3)
            if k == 0:
                ax.set_title(f"{what} ({'2 x vector part of q_BR' if c == 0 else 'omega_BR'}), body axes",
                             fontsize=10)
                ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.07), ncol=2, frameon=False)
        axes[2][c].set_xlabel("mission time [s]")
    _mode_legend(fig, spans)
    sec.figures.append(("Attitude error and rate error from ATT_STATE per body axis, in degrees"
                        + (f" (long run: the band spans each {((t[-1] - t[0]) / ENVELOPE_BINS):.0f} s bin's minimum "
                           "to maximum)" if binned else "")
                        + ", against the attitude abort limit and the contact envelope's rate limit.", fig))
    return sec


def section_propulsion(run: RunData) -> Section:
    sec = Section("propulsion", "Thruster activity and propellant")
    if not run.has("PROPULSION"):
        return _absent(sec, "PROPULSION")
    pr = run.packets["PROPULSION"]
    t = pr["t"]
    spans = _mode_spans(run)
    fig, axes = _figure(12, 8, 3, 1, sharex=True)
    ax = axes[0][0]
    _shade_modes(ax, spans)
    ax.plot(t, pr["prop_used_kg"], color="C0", label="flight estimate (PROPULSION)")
    truth = (run.summary.get("docking") or {}).get("propellant_used_kg")
    if truth is not None:
        ax.plot(t[-1], truth, "D", color="C3", label=f"truth at the end: {truth:.2f} kg")
    ax.set_ylabel("propellant used [kg]")
    _legend_right(ax)
    ax.grid(alpha=0.3)
    ax = axes[1][0]
    dt = np.diff(t)
    ok = dt > 0
    for key, label, c in (("trans_on_time_s", "translation", "C0"), ("att_on_time_s", "attitude", "C1")):
        duty = np.diff(pr[key].astype(float))[ok] / dt[ok]
        ax.plot(t[1:][ok], duty, lw=0.8, color=c, label=f"{label} thrusters")
    ax.set_ylabel("thruster on-time\nper second [s/s]")
    _legend_right(ax)
    ax.grid(alpha=0.3)
    ax = axes[2][0]
    pulses = np.diff(pr["pulses"].astype(float))[ok] / dt[ok]
    handles = ax.plot(t[1:][ok], pulses, lw=0.8, color="C2", label="pulses per second")
    ax.set_ylabel("pulse rate [1/s]")
    if run.has("GUIDANCE_STATE"):
        g = run.packets["GUIDANCE_STATE"]
        ax2 = ax.twinx()
        handles += ax2.plot(g["t"], g["dv_total_mps"], color="C4", lw=1.2, label="guidance delta-v commanded")
        ax2.set_ylabel("delta-v commanded [m/s]", color="C4")
    ax.set_xlabel("mission time [s]")
    _legend_right(ax, handles, bbox_to_anchor=(1.07, 1.0))
    ax.grid(alpha=0.3)
    _mode_legend(fig, spans)
    sec.figures.append(("Propellant used, thruster on-time rate and pulse rate (PROPULSION), and the guidance "
                        "delta-v (GUIDANCE_STATE).", fig))
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
        ax.set_ylabel(f"{cfg.get('name', f'zone {z}')}\ntemperature [degC]", fontsize=8)
        ax2 = ax.twinx()
        ax2.fill_between(t, tz["duty"][:, z], step="post", color="C1", alpha=0.25, lw=0)
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("heater duty [0-1]", color="C1", fontsize=8)
        ax.set_zorder(ax2.get_zorder() + 1)  # temperature over the duty shading
        ax.patch.set_visible(False)
        ax.grid(alpha=0.3)
        if z == 0:
            _legend_right(ax, bbox_to_anchor=(1.06, 1.0))
    ax = axes[n][0]
    ax.plot(t, tz["power_W"], color="C1", label="heater power")
    ax.plot(t, tz["power_limit_W"], color="C3", ls="--", label="power budget")
    ax.set_ylabel("heater power [W]")
    ax.set_xlabel("mission time [s]")
    _legend_right(ax, bbox_to_anchor=(1.06, 1.0))
    ax.grid(alpha=0.3)
    sec.figures.append(("Each zone's temperature with its limits (thermal.toml) and setpoint; shaded: heater "
                        "duty (right axis); bottom: total heater power against the budget.", fig))
    return sec


def section_timing(run: RunData) -> Section:
    from ground.timing import group_figures, run_timing

    sec = Section("timing", "Task timing")
    if not run.has("EXEC_TASK_TIMING"):
        sec.notes.append("No EXEC_TASK_TIMING packets in this archive.")
    rep = run_timing(run.run_dir)
    sec.notes += rep["notes"]
    if rep["tasks"]:
        for group, fig in group_figures(rep):
            sec.figures.append((f"Rate group {group}: execution time per task (dashed: budget).", fig))
        rows = [(r["task"], r["group"], r["calls"], f"{r['budget_us']:g}", f"{r['p50_us']:.1f}",
                 f"{r['p99_us']:.1f}", f"{r['max_us']:.1f}", r["overruns"], r["errors"]) for r in rep["tasks"]]
        sec.html += _table(["task", "group", "calls", "budget us", "p50 us", "p99 us", "max us", "overruns",
                            "errors"], rows)
    st = run.summary.get("timing") or {}
    if st:
        sec.html += _table(["executive", "value"], [
            ("frames", st.get("frames")), ("cycle slips", st.get("cycle_slips")),
            ("skipped slots", st.get("skipped_slots")), ("frame overruns", st.get("frame_overruns")),
            ("cpu load [%]", _num(st.get("cpu_load_pct"), "{:.2f}"))])
    return sec


_NUMBERS = re.compile(r"[-+]?\d+(\.\d+)?")


def event_source_names(run: RunData) -> dict[int, str]:
    """EVENT.source_id -> name, as events.log spells it: the fixed ids of telemetry.dictionary.EVENT_SOURCES,
    the task names of the EXEC_TASK_TIMING packets (task_id = schedule index), else flight.toml's schedule order."""
    names = {i: row["task"] for i, row in enumerate(run.flight.get("schedule", [])) if "task" in row}
    if run.has("EXEC_TASK_TIMING"):
        tt = run.packets["EXEC_TASK_TIMING"]
        for i, name in zip(tt["task_id"], tt["task_name"], strict=True):
            names[int(i)] = bytes(name).rstrip(b"\0").decode("ascii", "replace")
    names.update(EVENT_SOURCES)
    return names


def section_events(run: RunData) -> Section:
    sec = Section("events", "Event timeline")
    if not run.has("EVENT"):
        return _absent(sec, "EVENT")
    ev = run.packets["EVENT"]
    t = ev["t"]
    sev = [SEVERITIES.get(int(s), str(s)) for s in ev["severity"]]
    texts = [bytes(x).rstrip(b"\0").decode("ascii", "replace") for x in ev["text"]]
    events = [event_name(i) for i in ev["event_id"]]
    names = event_source_names(run)
    src = [names.get(int(s), f"source {int(s)}") for s in ev["source_id"]]
    order = sorted(set(src))
    ypos = {s: k for k, s in enumerate(order)}
    spans = _mode_spans(run)
    fig, axes = _figure(12, 1.6 + 0.32 * len(order))
    ax = axes[0][0]
    _shade_modes(ax, spans)
    _mark_mode_changes(ax, _mode_changes(run))
    handles = []
    for level, color in SEVERITY_COLORS.items():
        idx = [i for i, s in enumerate(sev) if s == level]
        if idx:
            handles.append(ax.scatter(t[idx], [ypos[src[i]] for i in idx],
                                      s=14 if level in ("DEBUG", "WARNING") else 30, color=color,
                                      marker="|" if level in ("DEBUG", "WARNING") else "o", label=level, zorder=3))
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_ylabel("event source")
    ax.set_xlabel("mission time [s]")
    ax.grid(alpha=0.3, axis="x")
    _mode_legend(fig, spans, handles)
    sec.figures.append(("Every EVENT packet by source and severity (background: vehicle mode; dotted: mode "
                        "changes).", fig))
    groups: dict[tuple, list] = {}
    for i, text in enumerate(texts):
        key = (sev[i], src[i], events[i], _NUMBERS.sub("#", text))
        groups.setdefault(key, []).append(i)
    rows = []
    for (level, source, event, _), idx in sorted(groups.items(), key=lambda kv: t[kv[1][0]]):
        rows.append((f"{t[idx[0]]:.1f}", f"{t[idx[-1]]:.1f}" if len(idx) > 1 else "", len(idx), level, source,
                     event, texts[idx[0]]))
    sec.html += ("<p>Events grouped by severity, source, event (its name in the event table, "
                 "docs: telemetry/generated/DICTIONARY.md) and text with the numbers masked; the text shown is "
                 "the first of each group. Every event is in events.log.</p>")
    sec.html += _table(["first t [s]", "last t [s]", "count", "severity", "source", "event", "text (first)"], rows,
                       row_class=lambda r: r[3].lower())
    return sec


# Contact quantity -> (axis label with unit) for the envelope plot.
CONTACT_LABELS = {"axial_rate_mps": "axial closing rate [m/s]", "lateral_rate_mps": "lateral rate [m/s]",
                  "lateral_misalignment_m": "lateral misalignment [m]", "pitch_deg": "pitch misalignment [deg]",
                  "yaw_deg": "yaw misalignment [deg]", "roll_deg": "roll misalignment [deg]",
                  "rates_deg_s": "angular rate per body axis [deg/s]"}


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
    fig, axes = _figure(12, 0.95 * len(items) + 1.2, len(items), 1)
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
        # several values (the angular rate per body axis): one row each, named, so none hides another
        ys = np.linspace(0.5, -0.5, len(xs)) if len(xs) > 1 else np.zeros(1)
        ax.plot(xs, ys, "o" if ok else "X", color="k" if ok else "C3", ms=7, ls="none", gid="contact-value")
        names = [f"{axis}: " for axis in "xyz"] if len(xs) > 1 else [""]
        for x, y, v, prefix in zip(xs, ys, vals, names, strict=False):
            ax.annotate(f"{prefix}{v:.3g}", (x, y), textcoords="offset points", xytext=(8, -3), fontsize=7)
        ax.set_xlim(*band)
        ax.set_ylim(-1.0, 1.0)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xlabel(CONTACT_LABELS.get(name, name), fontsize=8, labelpad=1)
        ax.tick_params(axis="x", labelsize=8)
    axes[0][0].set_title("green: envelope; darker: design target (half of each limit; axial rate: the profile's "
                         "contact speed +- tolerance)\nmarker: contact value (X: out of the envelope, clipped to the "
                         "axis)", fontsize=9)
    sec.figures.append(("Contact quantities (summary.json, truth) on their allowed ranges.", fig))
    rows = [(name, ", ".join(f"{v:.4g}" for v in vals),
             " .. ".join(f"{x:g}" for x in limit) if isinstance(limit, list)
             else f"<= {limit:g}" if name in UNSIGNED_CONTACT else f"|value| <= {limit:g}",
             "ok" if ok else "OUT") for name, vals, limit, ok in items]
    sec.html += _table(["quantity", "value", "limit", "verdict"], rows,
                       row_class=lambda r: "ok" if r[3] == "ok" else "bad")
    return sec


def section_far_range(run: RunData) -> Section:
    """Issue #18: the far range from orbit insertion (summary.json far_range, FAR_RANGE and NAV_STATE packets)."""
    sec = Section("far_range", "Far range (orbit insertion to the first hold)")
    fr = run.summary.get("far_range")
    orbit = run.summary.get("initial_orbit")
    if orbit:
        sec.html += (f"<p>Initial orbit: perigee {orbit['perigee_altitude_m'] / 1e3:.1f} km, apogee "
                     f"{orbit['apogee_altitude_m'] / 1e3:.1f} km, station {orbit['phase_deg']:.2f} deg ahead"
                     f"{' (orbit insertion)' if orbit.get('insertion') else ''}.</p>")
    if not fr:
        sec.notes.append("No far range in this run (the scenario starts at or near the approach).")
        return sec
    def duty(b) -> str:  # the engines' mean duty and the time held off for attitude (thruster burns: none)
        if b.get("mean_duty") is None:
            return "thrusters"
        held = f", held off {b['paused_s']:.1f} s" if b.get("paused_s") else ""
        return f"{b['mean_duty']:.2f}{held}"

    rows = [(f"{b['start_s']:.1f}", f"{b['duration_s']:.1f}", f"{b['planned_centre_s']:.1f}", f"{b['dv_mps']:.2f}",
             ", ".join(f"{v:.2f}" for v in b["dv_LVLH_mps"]), f"{b['propellant_kg']:.1f}", duty(b), b["source"])
            for b in fr.get("burns", [])]
    sec.html += _table(["start [s]", "duration [s]", "planned centre [s]", "delta-v [m/s]", "delta-v LVLH [m/s]",
                        "propellant [kg]", "engine duty", "plan"], rows)
    torque = fr.get("engine_torque_unpredicted_Nm")
    if torque is not None:
        sec.html += ("<p>Engine torque the vehicle table does not predict, learnt in the burns (full duty, B): "
                     + ", ".join(f"{v:.0f}" for v in torque) + " N m.</p>")
    within = fr.get("dv_within_budget")
    sec.html += (f"<p class='{'ok' if within else 'bad'}'>Delta-v: far range {fr.get('dv_far_range_mps', 0):.1f} m/s "
                 f"against a budget of {fr.get('dv_budget_mps', 0):.0f} m/s; approach "
                 f"{fr.get('dv_approach_mps', 0):.2f} m/s; capability of the load "
                 f"{fr.get('dv_capability_mps', 0):.0f} m/s.</p>")
    if fr.get("propellant_used_kg") is not None:
        sec.html += (f"<p>Propellant (truth): {fr['propellant_used_kg']:.1f} kg of {fr['propellant_loaded_kg']:.0f} kg "
                     f"loaded (engines, flight estimate: {fr.get('engine_propellant_kg', 0):.1f} kg).</p>")
    holds = fr.get("time_to_hold_s") or {}
    sec.html += _table(["hold", "first arrival [s]", "[h:mm]"],
                       [(k, "-", "-") if v is None else (k, f"{v:.0f}", f"{int(v // 3600)}:{int(v % 3600 // 60):02d}")
                        for k, v in holds.items()])
    rejected = fr.get("plans_rejected") or []
    if rejected:
        sec.notes.append(f"{len(rejected)} plan(s) failed the passive-abort check and were not flown: "
                         + "; ".join(f"{r['why']} at {r['time_s']:.0f} s (burn {r['burn']}, x{r['ratio']:.2f})"
                                     for r in rejected[:5]))
    if not run.has("NAV_STATE"):
        return _absent(sec, "NAV_STATE")
    nav = run.packets["NAV_STATE"]
    t = nav["t"]
    r = np.asarray(nav["r_LVLH_m"], float)
    end = (fr.get("hold_arrival_s") or t[-1]) + 600.0
    m = (t <= end) & (nav["valid"] != 0)
    fig, axes = _figure(12, 7, 2, 1, sharex=True)
    ax = axes[0][0]
    ax.semilogy(t[m], np.linalg.norm(r[m], axis=1) / 1e3, color="C0", label="range to the port (navigation)")
    for b in fr.get("burns", []):
        for a in axes[:, 0]:
            a.axvspan(b["start_s"], b["start_s"] + max(b["duration_s"], 1.0), color="C3", alpha=0.3)
    ax.set_ylabel("range [km]")
    ax.grid(alpha=0.3, which="both")
    _legend_right(ax)
    ax = axes[1][0]
    ax.plot(t[m], r[m, 0] / 1e3, color="C1", label="radial x (up)")
    ax.plot(t[m], r[m, 1] / 1e3, color="C2", label="along-track y")
    ax.plot(t[m], r[m, 2] / 1e3, color="C4", label="cross-track z")
    ax.set_ylabel("relative position [km], LVLH")
    ax.set_xlabel("mission time [s]")
    ax.grid(alpha=0.3)
    _legend_right(ax)
    sec.figures.append(("Far range: range and LVLH position of the chaser relative to the station port (navigation "
                        "estimate, NAV_STATE) to 10 min after the first hold; shaded: engine burns (summary.json).",
                        fig))
    if run.has("FAR_RANGE"):
        f = run.packets["FAR_RANGE"]
        fig, axes = _figure(12, 3.5)
        ax = axes[0][0]
        mf = f["t"] <= end
        ax.plot(f["t"][mf], f["dv_total_mps"][mf], color="C0", label="engine delta-v delivered")
        ax.plot(f["t"][mf], f["plan_dv_mps"][mf], color="C1", label="delta-v still planned")
        ax.axhline(fr.get("dv_budget_mps", 0.0), color="C3", ls="--", label="far-range budget")
        ax.set_xlabel("mission time [s]")
        ax.set_ylabel("delta-v [m/s]")
        ax.grid(alpha=0.3)
        _legend_right(ax)
        sec.figures.append(("Delta-v delivered by the orbit-control engines and still planned (FAR_RANGE), against "
                            "the far-range budget (gnc.toml far_range.dv_budget_mps).", fig))
    return sec


SECTIONS = (section_overview, section_docking, section_far_range, section_trajectory, section_range,
            section_attitude, section_propulsion, section_thermal, section_timing, section_events)


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


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;color:#222}
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
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Run folder <code>{html.escape(str(run.run_dir.resolve()))}</code>. Plots are drawn from "
             f"<code>{ARCHIVE_NAME}</code> (what the ground received); contact values and truth propellant "
             "come from summary.json.</p><nav>"]
    parts += [f"<a href='#{sec.key}'>{html.escape(sec.title)}</a>" for sec in sections]
    parts.append("</nav>")
    for sec in sections:
        parts.append(f"<section id='{sec.key}'><h2>{html.escape(sec.title)}</h2>")
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in sec.notes]
        for caption, fig in sec.figures:
            data = base64.b64encode(_png(fig)).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append(sec.html + "</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def build_sections(run: RunData) -> list[Section]:
    """Every section; one that fails to draw becomes a note with the error, the others still come out."""
    import matplotlib

    matplotlib.use("Agg")
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
    run = load_run(run_dir)
    page = render_html(run, build_sections(run))
    path = Path(out) if out is not None else run.run_dir / REPORT_NAME
    path.write_text(page)
    return path


def write_pngs(run_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Every plot of the report as a separate PNG in ``out_dir`` (for review and for other documents)."""
    run = load_run(run_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sec in build_sections(run):
        for k, (_, fig) in enumerate(sec.figures):
            p = out_dir / f"{sec.key}_{k}.png"
            p.write_bytes(_png(fig))
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
