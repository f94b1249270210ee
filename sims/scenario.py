"""Scenario files: TOML in ``sims/scenarios/``, merged over a named base and validated.

A scenario names its ``base`` (another scenario or ``_defaults``); tables merge key by key, arrays
replace. The root of a chain may name a ``vehicle_file`` that becomes the ``[vehicle]`` table.
Validation stops at the first problem with a :class:`ScenarioError` that names the file the
offending key came from, the key path and what was expected; physically meaningless input
(negative mass, negative noise, an inertia that breaks the triangle inequality, a start inside the
station or far outside the rendezvous region, an unstable thermal step) is refused with the reason.
Ground commands are checked as the flight software will see them: each one is encoded with its
arguments (range-checked by the packet dictionary), a hazardous command needs its ARM in the arm
window, and a time-tagged command is written as a name, arguments and ``exec_time_s``.

Which file a scenario argument means (:func:`resolve_scenario`): a bare name (``nominal``) is a
shipped scenario of ``sims/scenarios/``; a path (``my.toml``, ``cases/x.toml``) is always that file.
A ``base`` is looked up next to the file that names it, then among the shipped scenarios, so a file
in any folder can build on a shipped one. The format is described in ``docs/scenarios.md``.

>>> sc = load_scenario("nominal")
>>> sc.name, sc.seed, sc.duration_s, sc.minor_frame_ns, sc.flight["initial_mode"]
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hal.devices import SENSORS
from sims.core.constants import NS_PER_S, SIGMA_W_M2_K4
from telemetry.codec import PacketError, tc_codec
from telemetry.dictionary import CMD_BY_NAME, N_ENGINES, N_HEATER_ZONES, N_HEATERS, N_THRUSTERS
from telemetry.errors import InputError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
FLIGHT_CONFIG = Path(__file__).resolve().parents[1] / "fsw" / "config" / "flight.toml"  # arm window of ARM/FIRE
FAULT_KINDS = ("sensor_dropout", "sensor_bias", "thruster_stuck_on", "thruster_failed_off", "heater_open",
               "task_overrun", "task_exception")
# length of a sensor_bias ``value`` per device (scalar values are broadcast)
BIAS_SIZES = MappingProxyType({
    "DEV_GYRO": 3,  # [rad/s] B
    "DEV_STAR_TRACKER": 3,  # [rad] small rotation, B
    "DEV_GNSS_REL": 6,  # [m] then [m/s], LVLH
    "DEV_GNSS_ABS": 6,  # [m] then [m/s], N
    "DEV_LIDAR": 3,  # [m], [rad] az, [rad] el
    "DEV_CAMERA": 6,  # [m] B, then [rad] roll, pitch, yaw
    "DEV_THERMISTORS": N_HEATERS,  # [degC] per thermistor
})
DISPERSION_KINDS = ("normal", "uniform")
# thermal stability margin on the explicit substep (fraction of the smallest node time constant)
THERMAL_STABILITY_MARGIN = 0.5
# worst-case node temperature for the radiative linearisation of the stability check [K]
THERMAL_STABILITY_T_K = 400.0
# [est] rendezvous region of the emulator (docs/reference.md): farther, or faster, is another orbit, not a
# rendezvous (fast_rendezvous starts at 50 km; a 5 km altitude difference drifts at ~8.5 m/s)
MAX_START_RANGE_M = 100e3
MAX_START_SPEED_MPS = 100.0
TIME_TAG = "TIME_TAG"


class ScenarioError(InputError):
    """A scenario file is missing, malformed, or physically meaningless."""


# ---------------------------------------------------------------------------------------------
# schema: leaf specs are small callables that return an error text or None


@dataclass(frozen=True)
class Num:
    """A float (ints accepted) within [lo, hi]; ``gt`` makes lo exclusive."""

    lo: float | None = None
    hi: float | None = None
    gt: bool = False
    integer: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        lo = "" if self.lo is None else (f" > {self.lo}" if self.gt else f" >= {self.lo}")
        hi = "" if self.hi is None else f" <= {self.hi}"
        return kind + (lo + (" and" if lo and hi else "") + hi if (lo or hi) else "")

    def check(self, v) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.integer and not isinstance(v, int)):
            return self.describe()
        if not math.isfinite(v):
            return self.describe() + " (finite)"
        if self.lo is not None and (v <= self.lo if self.gt else v < self.lo):
            return self.describe()
        if self.hi is not None and v > self.hi:
            return self.describe()
        return None


@dataclass(frozen=True)
class Vec:
    """A list of ``n`` numbers, each within the element spec; ``unit`` requires norm 1."""

    n: int
    elem: Num = Num()
    unit: bool = False

    def describe(self) -> str:
        return f"a list of {self.n} numbers, each {self.elem.describe()}" + (" with norm 1" if self.unit else "")

    def check(self, v) -> str | None:
        if not isinstance(v, list) or len(v) != self.n or any(self.elem.check(e) for e in v):
            return self.describe()
        if self.unit and abs(math.sqrt(sum(e * e for e in v)) - 1.0) > 1e-6:
            return self.describe()
        return None


@dataclass(frozen=True)
class Str:
    choices: tuple[str, ...] | None = None

    def describe(self) -> str:
        return f"one of {list(self.choices)}" if self.choices else "a string"

    def check(self, v) -> str | None:
        if not isinstance(v, str) or (self.choices and v not in self.choices):
            return self.describe()
        return None


@dataclass(frozen=True)
class Bool:
    def describe(self) -> str:
        return "true or false"

    def check(self, v) -> str | None:
        return None if isinstance(v, bool) else self.describe()


@dataclass(frozen=True)
class Any_:
    """Anything TOML can hold (fault values, command args are checked elsewhere)."""

    def check(self, v) -> str | None:
        return None


@dataclass(frozen=True)
class Opaque:
    """A table passed through unchecked (the flight software's [flight] table)."""


@dataclass(frozen=True)
class ListOf:
    """An array of tables, each following ``schema``."""

    schema: dict
    min_len: int = 0


@dataclass(frozen=True)
class Opt:
    """An optional key with a default."""

    spec: Any
    default: Any = None


P = Num(0.0, 1.0)  # a probability or fraction
NONNEG = Num(0.0)
POS = Num(0.0, gt=True)
RATE = Num(0.0, gt=True)

LATENCY = NONNEG  # [s] from a sample's measurement to its delivery; a whole number of minor frames (checked)
# The [sensors.<name>] tables (docs/sensors.md gives each figure and its source).
SENSOR_SCHEMA = {
    "gyro": {"rate_hz": RATE, "arw_deg_sqrt_h": NONNEG, "bias_instability_deg_h": NONNEG,
             "bias_correlation_s": POS, "rrw_deg_h_sqrt_h": NONNEG, "scale_factor_ppm": NONNEG,
             "latency_s": LATENCY, "dropout_prob": P},
    "star_tracker": {"rate_hz": RATE, "noise_cross_arcsec": NONNEG, "noise_roll_arcsec": NONNEG,
                     "boresight_B": Vec(3, unit=True), "latency_s": LATENCY, "dropout_prob": P},
    "gnss_rel": {"rate_hz": RATE, "noise_r_m": NONNEG, "noise_v_mps": NONNEG, "bias_r_m": NONNEG,
                 "bias_v_mps": NONNEG, "bias_correlation_s": POS, "min_range_m": NONNEG, "max_range_m": POS,
                 "multipath_range_m": NONNEG, "outlier_prob": P, "outlier_m": NONNEG, "outlier_range_m": NONNEG,
                 "latency_s": LATENCY, "dropout_prob": P},
    "gnss_abs": {"rate_hz": RATE, "noise_r_m": NONNEG, "noise_v_mps": NONNEG, "latency_s": LATENCY,
                 "dropout_prob": P},
    "lidar": {"rate_hz": RATE, "noise_range_m": NONNEG, "noise_range_frac": NONNEG, "noise_angle_deg": NONNEG,
              "noise_angle_near_deg": NONNEG, "near_range_m": POS, "bias_range_m": NONNEG, "bias_angle_deg": NONNEG,
              "bias_correlation_s": POS, "min_range_m": NONNEG, "max_range_m": POS,
              "fov_half_deg": Num(0.0, 90.0, gt=True), "mount_B_m": Vec(3), "latency_s": LATENCY, "dropout_prob": P,
              "burst_start_prob": P, "burst_mean_s": POS},
    "camera": {"rate_hz": RATE, "noise_lateral_m": NONNEG, "noise_lateral_frac": NONNEG, "noise_depth_m": NONNEG,
               "noise_depth_per_m": NONNEG, "noise_angle_deg": NONNEG, "noise_angle_deg_per_m": NONNEG,
               "min_range_m": NONNEG, "max_range_m": POS, "attitude_max_range_m": NONNEG,
               "fov_half_deg": Num(0.0, 90.0, gt=True), "latency_s": LATENCY, "dropout_prob": P},
    "thermistors": {"rate_hz": RATE, "noise_C": NONNEG, "quantum_C": NONNEG, "dropout_prob": P},
    "dock_mech": {"rate_hz": RATE},
}

THRUSTER_SCHEMA = {"name": Str(), "pos": Vec(3), "dir": Vec(3, unit=True), "thrust_N": POS, "group": Str()}
ENGINE_SCHEMA = {"name": Str(), "pos": Vec(3), "dir": Vec(3, unit=True), "thrust_N": POS}
# [chaser.insertion]: the start is the launcher's separation on an elliptical orbit (docs/far-range.md)
INSERTION_SCHEMA = {"perigee_altitude_m": Num(100e3), "apogee_altitude_m": Num(100e3),
                    "true_anomaly_deg": Num(-180.0, 180.0), "phase_deg": Num(-30.0, 30.0),
                    "inclination_offset_deg": Opt(Num(-5.0, 5.0), 0.0), "raan_offset_deg": Opt(Num(-5.0, 5.0), 0.0)}

# [vehicle.mass.cargo] (truth only): where the cargo sits; without it the CoM is com_offset_B_m and the inertia
# scales with mass from inertia_kg_m2 (mass_properties)
CARGO_SCHEMA = {"ref_kg": POS, "centroid_B_m": Vec(3), "gyration_radius_m": Vec(3, NONNEG),
                "placement_error_B_m": Opt(Vec(3), [0.0, 0.0, 0.0])}
# [vehicle.propulsion] thrust profiles (truth only): valve delay, 10-90 % rise and 90-10 % tail-off, per class
PULSE_KEYS = ("valve_delay_s", "rise_s", "tail_s", "valve_delay_translation_s", "rise_translation_s",
              "tail_translation_s")
# [station.attitude]: the control limit cycle theta_i = A_i sin(2 pi t / P_i + phi_i) about each LVLH axis
STATION_ATTITUDE_SCHEMA = {"amplitude_deg": Opt(Vec(3, Num(0.0, 10.0)), [0.0, 0.0, 0.0]),
                           "period_s": Opt(Vec(3, Num(1.0)), [600.0, 600.0, 600.0]),
                           "phase_deg": Opt(Vec(3, Num(-360.0, 360.0)), [0.0, 0.0, 0.0])}
# [station.ephemeris]: 1-sigma error of the station state the ground uplinks, radial / along-track / cross-track
STATION_EPHEMERIS_SCHEMA = {"error_rtn_m": Opt(Vec(3, NONNEG), [0.0, 0.0, 0.0]),
                            "error_rtn_mps": Opt(Vec(3, NONNEG), [0.0, 0.0, 0.0])}

VEHICLE_SCHEMA = {
    "mass": {"dry_kg": POS, "cargo_kg": NONNEG, "propellant_kg": NONNEG, "inertia_kg_m2": Vec(3, POS),
             "com_offset_B_m": Vec(3), "inertia_ref_mass_kg": POS, "manifest_error_kg": Num(),
             "cargo": Opt(CARGO_SCHEMA, None)},
    "geometry": {"diameter_m": POS, "docking_port_B_m": Vec(3), "length_m": POS, "hull_radius_m": POS,
                 "drag_cd": NONNEG, "drag_area_m2": NONNEG},
    "propulsion": {"isp_s": POS, "min_impulse_bit_Ns": NONNEG, "min_impulse_bit_translation_Ns": NONNEG,
                   "thrust_error_sigma": NONNEG, "misalignment_sigma_deg": NONNEG,
                   "thrusters": ListOf(THRUSTER_SCHEMA, N_THRUSTERS),
                   **{k: Opt(NONNEG, 0.0) for k in PULSE_KEYS},
                   "engine_isp_s": POS, "engine_min_on_s": NONNEG, "engine_thrust_error_sigma": NONNEG,
                   "engines": ListOf(ENGINE_SCHEMA, N_ENGINES)},
}

NODE_SCHEMA = {
    "name": Str(), "capacity_J_K": POS, "area_m2": Opt(NONNEG, 0.0), "alpha": Opt(P, 0.0), "eps": Opt(P, 0.0),
    "normal_B": Opt(Vec(3, unit=True), [1.0, 0.0, 0.0]), "q_int_W": Opt(NONNEG, 0.0), "initial_C": Opt(Num(-273.15)),
}

SCHEMA = {
    "name": Str(), "description": Opt(Str(), ""), "seed": Num(0, integer=True), "duration_s": POS,
    "minor_frame_ns": Num(0, gt=True, integer=True),
    "flight": Opt(Opaque(), {}),
    "commands": Opt(ListOf({"time_s": NONNEG, "name": Str(), "args": Opt(Opaque(), {}),
                            "exec_time_s": Opt(NONNEG)}), []),
    "faults": Opt(ListOf({"kind": Str(FAULT_KINDS), "target": Any_(), "start_s": NONNEG, "duration_s": POS,
                          "value": Opt(Any_())}), []),
    "dispersions": Opt(Opaque(), {}),
    "earth": {"mu_m3_s2": POS, "radius_m": POS, "j2": NONNEG, "rotation_rad_s": NONNEG},
    "drag": {"enabled": Bool(), "rho0_kg_m3": NONNEG, "ref_altitude_m": NONNEG, "scale_height_m": POS},
    "station": {"altitude_m": POS, "inclination_deg": Num(0.0, 180.0), "raan_deg": Num(-360.0, 360.0),
                "arg_latitude_deg": Num(-360.0, 360.0), "mass_kg": POS, "drag_cd": NONNEG, "drag_area_m2": NONNEG,
                "port_LVLH_m": Vec(3), "body_radius_m": POS, "body_length_m": POS,
                "attitude": Opt(STATION_ATTITUDE_SCHEMA, {k: v.default for k, v in STATION_ATTITUDE_SCHEMA.items()}),
                "ephemeris": Opt(STATION_EPHEMERIS_SCHEMA,
                                 {k: v.default for k, v in STATION_EPHEMERIS_SCHEMA.items()})},
    "chaser": {"r_LVLH_m": Vec(3), "v_LVLH_mps": Vec(3), "att_error_deg": Vec(3, Num(-180.0, 180.0)),
               "omega_BL_B_deg_s": Vec(3), "attitude_mode": Str(("free", "hold_lvlh")),
               "insertion": Opt(INSERTION_SCHEMA, None)},
    "docking": {"capture_ring_radius_m": POS, "restitution": P, "keep_out_radius_m": POS,
                "limits": {"axial_rate_min_mps": NONNEG, "axial_rate_max_mps": POS, "lateral_rate_max_mps": NONNEG,
                           "lateral_misalignment_max_m": NONNEG, "pitch_max_deg": NONNEG, "yaw_max_deg": NONNEG,
                           "roll_max_deg": NONNEG, "angular_rate_max_deg_s": NONNEG}},
    # ideal = true: white noise only (no bias, latency, dropout, blind zone ...; sims.truth), for algorithm work
    # target_offset_m: 1-sigma per axis of the station target's calibration error against its docking axis
    "sensors": {**SENSOR_SCHEMA, "ideal": Opt(Bool(), False), "target_offset_m": Opt(NONNEG, 0.0)},
    "thermal": {"rate_hz": RATE, "substeps": Num(1, integer=True), "solar_flux_W_m2": NONNEG, "albedo": P,
                "earth_ir_W_m2": NONNEG, "shadow": Str(("cylindrical", "conical")),
                "beta_deg": Num(-90.0, 90.0), "sun_phase_deg": Num(-360.0, 360.0), "initial_C": Num(-273.15),
                "nodes": ListOf(NODE_SCHEMA, 1),
                "conductances": ListOf({"a": Str(), "b": Str(), "G_W_K": NONNEG}),
                "radiation": ListOf({"a": Str(), "b": Str(), "R_m2": NONNEG}),
                "zones": ListOf({"name": Str(), "node": Str()}, N_HEATER_ZONES),
                "heater_power_W": Vec(N_HEATERS, NONNEG)},
    "vehicle": VEHICLE_SCHEMA,
}


# ---------------------------------------------------------------------------------------------
# the frozen result


class Frozen:
    """Read-only view of a validated table: attribute and item access, nested tables frozen too."""

    __slots__ = ("_d",)

    def __init__(self, d: dict):
        object.__setattr__(self, "_d", MappingProxyType({k: _freeze(v) for k, v in d.items()}))

    def __getattr__(self, k):
        try:
            return self._d[k]
        except KeyError:
            raise AttributeError(k) from None

    def __getitem__(self, k):
        return self._d[k]

    def __contains__(self, k):
        return k in self._d

    def __iter__(self):
        return iter(self._d)

    def keys(self):
        return self._d.keys()

    def items(self):
        return self._d.items()

    def __setattr__(self, k, v):
        raise AttributeError("scenario tables are read-only")

    def __repr__(self):
        return f"Frozen({dict(self._d)!r})"


def _freeze(v):
    if isinstance(v, dict):
        return Frozen(v)
    if isinstance(v, list):
        return tuple(_freeze(e) for e in v)
    return v


@dataclass(frozen=True)
class Fault:
    """One fault injection: ``kind`` on ``target`` from ``start_s`` for ``duration_s`` with ``value``."""

    kind: str
    target: str | int
    start_s: float
    duration_s: float
    value: Any = None

    def __getitem__(self, k):
        return getattr(self, k)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "start_s": self.start_s,
                "duration_s": self.duration_s, "value": self.value}


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. ``raw`` is the merged dict; the named tables are read-only views of it."""

    name: str
    description: str
    source: str
    seed: int
    duration_s: float
    minor_frame_ns: int
    flight: dict
    commands: list
    faults: list
    earth: Frozen
    drag: Frozen
    station: Frozen
    chaser: Frozen
    docking: Frozen
    sensors: Frozen
    thermal: Frozen
    vehicle: Frozen
    dispersions: Frozen
    raw: dict = field(repr=False)


# ---------------------------------------------------------------------------------------------
# loading and merging


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios (files in sims/scenarios/ not starting with ``_``)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml") if not p.stem.startswith("_"))


def describe_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped scenario, read from its own file."""
    out = []
    for name in list_scenarios():
        try:
            text = _read(SCENARIO_DIR / f"{name}.toml").get("description", "")
        except ScenarioError as err:
            text = f"(unreadable: {err})"
        out.append((name, str(text)))
    return out


def _is_name(text: str) -> bool:
    """A bare scenario name: no folder part and no ``.toml`` suffix."""
    return "/" not in text and "\\" not in text and not text.endswith(".toml") and text not in ("", ".", "..")


def resolve_scenario(name_or_path: str | Path) -> Path:
    """The file a scenario argument means.

    A bare name (``"nominal"``) is the shipped ``sims/scenarios/nominal.toml`` (or, when no shipped
    scenario has that name, a file of that name in the working folder). Anything else (a ``.toml``
    suffix, a folder part, a ``Path``) is that file, relative to the working folder: a user's file
    is never replaced by a shipped one of the same name.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, str) and _is_name(text):
        shipped = SCENARIO_DIR / f"{text}.toml"
        if shipped.is_file():
            return shipped
        if Path(text).is_file():
            return Path(text).resolve()
        raise ScenarioError(f"{text!r}: no shipped scenario of that name (shipped: {', '.join(list_scenarios())}; "
                            f"a scenario file is given by its path, ending in .toml)")
    p = Path(text)
    if p.is_dir():
        raise ScenarioError(f"{text}: is a folder, expected a scenario file (.toml)")
    if not p.exists():
        hint = (f" (the shipped scenario is --scenario {p.stem})"
                if p.parent == Path(".") and (SCENARIO_DIR / p.name).is_file() else "")
        raise ScenarioError(f"{text}: no such scenario file{hint}")
    return p.resolve()


def _resolve_base(base: str, path: Path) -> Path:
    """The file a ``base`` in ``path`` names: a bare name next to ``path``, else shipped; a path relative to it."""
    if _is_name(base):
        for candidate in (path.parent / f"{base}.toml", SCENARIO_DIR / f"{base}.toml"):
            if candidate.is_file():
                return candidate
        raise ScenarioError(f"{path}: base: no scenario {base!r} next to this file nor among the shipped ones "
                            f"({', '.join(list_scenarios())})")
    candidate = path.parent / base
    if not candidate.is_file():
        raise ScenarioError(f"{path}: base: no such file {candidate}")
    return candidate


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a folder, expected a TOML file") from None
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (TOML is UTF-8 text)") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None


def _merge(base: dict, over: dict, origins: dict, src: str, prefix: tuple = ()) -> dict:
    for k, v in over.items():
        path = prefix + (k,)
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v, origins, src, path)
        else:
            base[k] = copy.deepcopy(v)
            origins[path] = src
            for key in [o for o in origins if o[:len(path)] == path and o != path]:
                del origins[key]
            if isinstance(v, dict):
                _mark(v, origins, src, path)
    return base


def _mark(d: dict, origins: dict, src: str, prefix: tuple) -> None:
    for k, v in d.items():
        origins[prefix + (k,)] = src
        if isinstance(v, dict):
            _mark(v, origins, src, prefix + (k,))


def _load_chain(path: Path, origins: dict, seen: tuple = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ScenarioError(f"{path}: base: circular chain {' -> '.join(str(s) for s in seen + (path,))}")
    data = _read(path)
    base_name = data.pop("base", None)
    vehicle_file = data.pop("vehicle_file", None)
    merged: dict = {}
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ScenarioError(f"{path}: base: expected a scenario name (string), got {base_name!r}")
        merged = _load_chain(_resolve_base(base_name, path), origins, seen + (path,))
    if vehicle_file is not None:
        if not isinstance(vehicle_file, str):
            raise ScenarioError(f"{path}: vehicle_file: expected a file name (string), got {vehicle_file!r}")
        vpath = (path.parent / vehicle_file).resolve()
        _merge(merged, {"vehicle": _read(vpath)}, origins, str(vpath))
    return _merge(merged, data, origins, str(path))


def _origin(origins: dict, path: tuple, default: str) -> str:
    for n in range(len(path), 0, -1):
        if path[:n] in origins:
            return origins[path[:n]]
    return default


def _fmt(path: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")


class _Validator:
    def __init__(self, origins: dict, source: str):
        self.origins = origins
        self.source = source

    def fail(self, path: tuple, msg: str):
        raise ScenarioError(f"{_origin(self.origins, path, self.source)}: {_fmt(path)}: {msg}")

    def table(self, d, schema: dict, path: tuple) -> None:
        if not isinstance(d, dict):
            self.fail(path, f"expected a table, got {d!r}")
        for k in d:
            if k not in schema:
                self.fail(path + (k,), f"unknown key (expected one of {sorted(schema)})")
        for k, spec in schema.items():
            if k not in d:
                if isinstance(spec, Opt):
                    d[k] = copy.deepcopy(spec.default)
                    continue
                self.fail(path + (k,), "missing required key" + (
                    f" ({spec.describe()})" if hasattr(spec, "describe") else ""))
            self.value(d[k], spec.spec if isinstance(spec, Opt) else spec, path + (k,),
                       optional_none=isinstance(spec, Opt) and spec.default is None)

    def value(self, v, spec, path: tuple, optional_none: bool = False) -> None:
        if optional_none and v is None:
            return
        if isinstance(spec, dict):
            self.table(v, spec, path)
        elif isinstance(spec, ListOf):
            if not isinstance(v, list) or len(v) < spec.min_len:
                self.fail(path, f"expected an array of at least {spec.min_len} tables, got {v!r}")
            for i, e in enumerate(v):
                self.table(e, spec.schema, path + (i,))
        elif isinstance(spec, Opaque):
            if not isinstance(v, dict):
                self.fail(path, f"expected a table, got {v!r}")
        else:
            err = spec.check(v)
            if err:
                self.fail(path, f"expected {err}, got {v!r}")


def load_scenario(name_or_path: str | Path, overrides: dict | None = None) -> Scenario:
    """Load, merge and validate a scenario.

    Parameters
    ----------
    name_or_path : a name in sims/scenarios/ (``"nominal"``) or a path to a TOML file (:func:`resolve_scenario`)
    overrides : optional nested dict merged on top before validation (Monte Carlo cases, tests)

    Raises
    ------
    ScenarioError
        naming the file, the key path and what was expected, or the physical reason for refusal
    """
    path = resolve_scenario(name_or_path)
    origins: dict = {}
    raw = _load_chain(path, origins)
    if overrides:
        _merge(raw, copy.deepcopy(overrides), origins, "<overrides>")
    v = _Validator(origins, str(path))
    v.table(raw, SCHEMA, ())
    _check_physics(raw, v)
    faults = [Fault(**f) for f in raw["faults"]]
    frozen = {k: Frozen(raw[k]) for k in ("earth", "drag", "station", "chaser", "docking", "sensors", "thermal",
                                          "vehicle", "dispersions")}
    return Scenario(name=raw["name"], description=raw["description"], source=str(path), seed=raw["seed"],
                    duration_s=float(raw["duration_s"]), minor_frame_ns=raw["minor_frame_ns"],
                    flight=copy.deepcopy(raw["flight"]), commands=copy.deepcopy(raw["commands"]), faults=faults,
                    raw=raw, **frozen)


# ---------------------------------------------------------------------------------------------
# physical and cross-field checks


def station_state(raw: dict) -> tuple[np.ndarray, np.ndarray]:
    """ECI position [m] and velocity [m/s] of the station on its circular orbit at the run epoch (``raw``: a
    merged scenario table)."""
    e, s = raw["earth"], raw["station"]
    return _orbit_state(e["mu_m3_s2"], e["radius_m"] + s["altitude_m"], e["radius_m"] + s["altitude_m"],
                        math.radians(s["arg_latitude_deg"]), 0.0, math.radians(s["inclination_deg"]),
                        math.radians(s["raan_deg"]))


def _orbit_state(mu, rp, ra, u, nu, inc, raan) -> tuple[np.ndarray, np.ndarray]:
    """ECI state on the orbit of perigee / apogee radii ``rp``, ``ra`` at argument of latitude ``u`` and true
    anomaly ``nu`` (node frame rotated by R3(-raan) R1(-inc))."""
    a = 0.5 * (rp + ra)
    ecc = (ra - rp) / (ra + rp)
    p = a * (1.0 - ecc * ecc)
    r = p / (1.0 + ecc * math.cos(nu))
    vr = math.sqrt(mu / p) * ecc * math.sin(nu)
    vt = math.sqrt(mu / p) * (1.0 + ecc * math.cos(nu))
    cu, su = math.cos(u), math.sin(u)
    ci, si, co, so = math.cos(inc), math.sin(inc), math.cos(raan), math.sin(raan)
    R = np.array([[co, -so * ci, so * si], [so, co * ci, -co * si], [0.0, si, ci]])
    return R @ np.array([r * cu, r * su, 0.0]), R @ np.array([vr * cu - vt * su, vr * su + vt * cu, 0.0])


def insertion_state(raw: dict) -> tuple[np.ndarray, np.ndarray]:
    """ECI state of the chaser at separation from the launcher, from ``[chaser.insertion]``: its orbit's perigee
    and apogee altitudes, its true anomaly, and the phase angle (the station's argument of latitude less the
    chaser's; > 0: the station ahead), in the station's plane unless offset."""
    e, s, ins = raw["earth"], raw["station"], raw["chaser"]["insertion"]
    u = math.radians(s["arg_latitude_deg"] - ins["phase_deg"])
    return _orbit_state(e["mu_m3_s2"], e["radius_m"] + ins["perigee_altitude_m"],
                        e["radius_m"] + ins["apogee_altitude_m"], u, math.radians(ins["true_anomaly_deg"]),
                        math.radians(s["inclination_deg"] + ins["inclination_offset_deg"]),
                        math.radians(s["raan_deg"] + ins["raan_offset_deg"]))


def insertion_relative(raw: dict) -> tuple[np.ndarray, np.ndarray]:
    """The insertion state as the truth's start takes it: chaser CoM w.r.t. the station port [m] and its rate
    [m/s] in station LVLH (rotating with the frame's full rate, J2 included; sims.truth builds it back)."""
    r_s, v_s = station_state(raw)
    r_c, v_c = insertion_state(raw)
    x = r_s / np.linalg.norm(r_s)
    h = np.cross(r_s, v_s)
    z = h / np.linalg.norm(h)
    C = np.array([x, np.cross(z, x), z])
    e = raw["earth"]
    rn = np.linalg.norm(r_s)
    f = 1.5 * e["j2"] * e["radius_m"] ** 2 / rn ** 2
    zz = 5.0 * r_s[2] ** 2 / rn ** 2
    a = -e["mu_m3_s2"] / rn ** 3 * r_s * np.array([1 + f * (1 - zz), 1 + f * (1 - zz), 1 + f * (3 - zz)])
    w = np.array([rn * (a @ z) / np.linalg.norm(h), 0.0, np.linalg.norm(h) / rn ** 2])
    rho = C @ (r_c - r_s)
    return rho - np.asarray(raw["station"]["port_LVLH_m"], float), C @ (v_c - v_s) - np.cross(w, rho)


def initial_orbit(raw: dict) -> dict:
    """The chaser's orbit at the start (osculating two-body elements of its inertial state): perigee and apogee
    altitudes [m] over the equatorial radius, and the phase angle [deg] of the station ahead of it (the angle
    from the chaser to the station about the station's orbit normal, > 0: the station ahead)."""
    e = raw["earth"]
    mu = e["mu_m3_s2"]
    r_s, v_s = station_state(raw)
    if raw["chaser"].get("insertion") is not None:
        r_c, v_c = insertion_state(raw)
    else:
        x = r_s / np.linalg.norm(r_s)
        h = np.cross(r_s, v_s)
        z = h / np.linalg.norm(h)
        C = np.array([x, np.cross(z, x), z])
        rho = np.asarray(raw["chaser"]["r_LVLH_m"], float) + np.asarray(raw["station"]["port_LVLH_m"], float)
        w = np.array([0.0, 0.0, np.linalg.norm(h) / (r_s @ r_s)])
        r_c = r_s + C.T @ rho
        v_c = v_s + C.T @ (np.asarray(raw["chaser"]["v_LVLH_mps"], float) + np.cross(w, rho))
    r = float(np.linalg.norm(r_c))
    a = 1.0 / (2.0 / r - float(v_c @ v_c) / mu)
    ecc = float(np.linalg.norm(np.cross(v_c, np.cross(r_c, v_c)) / mu - r_c / r))
    n_s = np.cross(r_s, v_s)
    n_s /= np.linalg.norm(n_s)
    phase = math.degrees(math.atan2(float(np.cross(r_c, r_s) @ n_s), float(r_c @ r_s)))
    return {"perigee_altitude_m": a * (1.0 - ecc) - e["radius_m"], "apogee_altitude_m": a * (1.0 + ecc) - e["radius_m"],
            "phase_deg": phase, "insertion": raw["chaser"].get("insertion") is not None}


def frame_divisor(rate_hz: float, minor_frame_ns: int) -> int | None:
    """Minor frames per sample of a ``rate_hz`` sensor, or None when it is not a whole number."""
    period_ns = NS_PER_S / rate_hz
    div = round(period_ns / minor_frame_ns)
    return div if div >= 1 and abs(div * minor_frame_ns - period_ns) < 1e-6 * period_ns else None


def latency_frames(latency_s: float, minor_frame_ns: int) -> int | None:
    """Minor frames of a sensor's ``latency_s`` [s], or None when it is not a whole number."""
    ns = latency_s * NS_PER_S
    n = round(ns / minor_frame_ns)
    return n if abs(n * minor_frame_ns - ns) <= 1e-6 * max(ns, minor_frame_ns) else None


def docking_dcm_LB(att_error_deg) -> np.ndarray:
    """C_LB of the docking attitude rotated by 3-2-1 (yaw, pitch, roll) errors [deg] (roll, pitch, yaw)."""
    roll, pitch, yaw = np.radians(att_error_deg)
    c1, s1, c2, s2, c3, s3 = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    # C_BD of the 3-2-1 sequence (Schaub & Junkins eq. 3.33)
    C_BD = np.array([[c2 * c1, c2 * s1, -s2],
                     [s3 * s2 * c1 - c3 * s1, s3 * s2 * s1 + c3 * c1, s3 * c2],
                     [c3 * s2 * c1 + s3 * s1, c3 * s2 * s1 - s3 * c1, c3 * c2]])
    C_DL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
    return (C_BD @ C_DL).T


def _point_inertia(m_kg: float, r_m: np.ndarray) -> np.ndarray:
    """[kg m^2] Diagonal of the inertia of a point mass at ``r_m`` about the origin: m (|r|^2 - r_i^2)."""
    return m_kg * (float(r_m @ r_m) - r_m * r_m)


def _reference_bodies(mass) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference load split in two bodies (``mass_properties``): the rest's inertia about its own CoM
    [kg m^2], the rest's CoM [m] and the reference cargo's inertia about its centroid, m k_i^2 [kg m^2]."""
    cargo = mass["cargo"]
    m_cr = float(cargo["ref_kg"])
    c0 = np.asarray(cargo["centroid_B_m"], float)
    m_rest0 = float(mass["inertia_ref_mass_kg"]) - m_cr
    k2 = np.asarray(cargo["gyration_radius_m"], float) ** 2
    r_rest = -m_cr * c0 / m_rest0  # the reference load's CoM is the B origin
    own_ref = m_cr * k2
    rest0 = (np.asarray(mass["inertia_kg_m2"], float) - own_ref - _point_inertia(m_cr, c0)
             - _point_inertia(m_rest0, r_rest))
    return rest0, r_rest, own_ref


def mass_properties(mass) -> tuple[np.ndarray, np.ndarray, float]:
    """The vehicle as loaded, from a ``[vehicle.mass]`` table: (CoM [m] in B, principal inertia [kg m^2] about it,
    the mass [kg] at which that inertia holds).

    Without ``cargo`` (or at its reference load and placement, with the reference rest mass): the CoM is
    ``com_offset_B_m`` and the inertia ``inertia_kg_m2`` at ``inertia_ref_mass_kg`` (the truth scales it with mass).
    With it, two bodies: the cargo (mass ``cargo_kg``, centroid ``centroid_B_m + placement_error_B_m``, radius of
    gyration about each B axis through its centroid ``gyration_radius_m``) and the rest (dry + propellant), whose
    CoM and inertia about it are those that make the reference load (``ref_kg`` at ``centroid_B_m``, total
    ``inertia_ref_mass_kg``) have its CoM at the B origin and the inertia ``inertia_kg_m2``; the rest's inertia
    scales with its mass. The CoM is
    the two bodies' plus ``com_offset_B_m`` (a residual whose inertia, M |d|^2 < 0.2 % of the moments for the
    dispersed centimetres, is left out); the inertia about it follows by the parallel-axis theorem. Products of
    inertia from a lateral cargo offset are left out (principal axes kept, see docs/scenarios.md).
    """
    offset = np.asarray(mass["com_offset_B_m"], float)
    m_ref = float(mass["inertia_ref_mass_kg"])
    cargo = mass["cargo"] if "cargo" in mass else None
    if cargo is None:
        return offset, np.asarray(mass["inertia_kg_m2"], float), m_ref
    m_c, m_cr = float(mass["cargo_kg"]), float(cargo["ref_kg"])
    m_rest, m_rest0 = float(mass["dry_kg"]) + float(mass["propellant_kg"]), m_ref - m_cr
    err = np.asarray(cargo["placement_error_B_m"], float)
    if m_c == m_cr and m_rest == m_rest0 and not err.any():
        return offset, np.asarray(mass["inertia_kg_m2"], float), m_ref  # the reference load, as tabulated
    rest0, r_rest, own_ref = _reference_bodies(mass)
    c = np.asarray(cargo["centroid_B_m"], float) + err
    total = m_rest + m_c
    d = (m_rest * r_rest + m_c * c) / total
    about_origin = (rest0 * (m_rest / m_rest0) + _point_inertia(m_rest, r_rest) + own_ref * (m_c / m_cr)
                    + _point_inertia(m_c, c))
    return offset + d, about_origin - _point_inertia(total, d), total


def manifest_com_B_m(mass) -> np.ndarray:
    """[m] The centre of mass the ground computes from the loading manifest (what is loaded, where it was planned to
    go): :func:`mass_properties` without this load's placement error and without the residual ``com_offset_B_m``,
    which nobody on the ground knows. The flight software gets it with the loaded mass (``sims.runner``)."""
    planned = dict(mass)
    planned["com_offset_B_m"] = [0.0, 0.0, 0.0]
    if planned.get("cargo") is not None:
        planned["cargo"] = {**planned["cargo"], "placement_error_B_m": [0.0, 0.0, 0.0]}
    return mass_properties(planned)[0]


def flight_com_B_m(sc) -> np.ndarray:
    """[m] The centre of mass the flight software is given, B: the scenario's ``[flight] com_B_m`` when it sets one,
    else :func:`manifest_com_B_m` of its load. The uplink (``sims.runner.flight_overrides``) and the truth's NEES
    reference (``Truth.reference_state``) both take it from here."""
    flight = sc.flight.get("com_B_m")
    return manifest_com_B_m(sc.vehicle["mass"]) if flight is None else np.asarray(flight, float)


def _real_inertia(moments: np.ndarray) -> bool:
    """Positive principal moments that satisfy the triangle inequality (a real mass distribution)."""
    return bool(np.all(moments > 0.0)) and all(moments[k] <= moments[(k + 1) % 3] + moments[(k + 2) % 3] + 1e-9
                                               for k in range(3))


def _check_physics(raw: dict, v: _Validator) -> None:
    frame_ns = raw["minor_frame_ns"]
    for name in SENSOR_SCHEMA:
        sensor = raw["sensors"][name]
        if frame_divisor(sensor["rate_hz"], frame_ns) is None:
            v.fail(("sensors", name, "rate_hz"), f"expected a rate whose period is a whole number of "
                                                 f"{frame_ns} ns minor frames, got {sensor['rate_hz']!r}")
        if "latency_s" in sensor and latency_frames(sensor["latency_s"], frame_ns) is None:
            v.fail(("sensors", name, "latency_s"), f"expected a whole number of {frame_ns} ns minor frames, "
                                                   f"got {sensor['latency_s']!r}")
        if "min_range_m" in sensor and sensor["min_range_m"] >= sensor["max_range_m"]:
            v.fail(("sensors", name, "min_range_m"), f"expected min_range_m < max_range_m "
                                                     f"({sensor['max_range_m']!r}), got {sensor['min_range_m']!r}")
    th = raw["thermal"]
    tdiv = frame_divisor(th["rate_hz"], frame_ns)
    if tdiv is None:
        v.fail(("thermal", "rate_hz"), f"expected a whole number of minor frames per thermal frame, "
                                       f"got {th['rate_hz']!r}")
    ratio = th["rate_hz"] / raw["sensors"]["thermistors"]["rate_hz"]
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        got = raw["sensors"]["thermistors"]["rate_hz"]
        v.fail(("sensors", "thermistors", "rate_hz"),
               f"expected a rate that divides the thermal rate {th['rate_hz']} Hz, got {got!r}")
    lim = raw["docking"]["limits"]
    if lim["axial_rate_min_mps"] > lim["axial_rate_max_mps"]:
        v.fail(("docking", "limits", "axial_rate_min_mps"), "expected axial_rate_min_mps <= axial_rate_max_mps")
    if raw["station"]["altitude_m"] < 100e3:
        v.fail(("station", "altitude_m"), "refused: below 100 km the orbit is not an orbit")
    prop = raw["vehicle"]["propulsion"]
    for key in ("valve_delay_s", "valve_delay_translation_s"):
        if prop[key] >= frame_ns / NS_PER_S:
            v.fail(("vehicle", "propulsion", key), f"expected a valve delay shorter than the minor frame "
                                                   f"({frame_ns / NS_PER_S:g} s), got {prop[key]!r}")
    # vehicle
    thrusters = raw["vehicle"]["propulsion"]["thrusters"]
    if len(thrusters) != N_THRUSTERS:
        v.fail(("vehicle", "propulsion", "thrusters"), f"expected {N_THRUSTERS} thrusters "
                                                       f"(telemetry.dictionary.N_THRUSTERS), got {len(thrusters)}")
    names = [t["name"] for t in thrusters]
    if len(set(names)) != len(names):
        v.fail(("vehicle", "propulsion", "thrusters"), f"expected unique thruster names, got {names}")
    inertia = raw["vehicle"]["mass"]["inertia_kg_m2"]
    for k in range(3):
        if inertia[k] > inertia[(k + 1) % 3] + inertia[(k + 2) % 3]:
            v.fail(("vehicle", "mass", "inertia_kg_m2"),
                   f"refused: principal moments {inertia} break the triangle inequality (each must be <= the sum "
                   f"of the other two for a real mass distribution)")
    mass = raw["vehicle"]["mass"]
    if mass["cargo"] is not None:
        if mass["cargo"]["ref_kg"] >= mass["inertia_ref_mass_kg"]:
            v.fail(("vehicle", "mass", "cargo", "ref_kg"), "expected a reference cargo lighter than the vehicle "
                                                           "(vehicle.mass.inertia_ref_mass_kg)")
        # the rest body's own inertia at the reference load must be a real one, and so must the loaded vehicle's
        for moments, what in ((_reference_bodies(mass)[0], "the rest of the vehicle at the reference load"),
                              (mass_properties(mass)[1], "the vehicle as loaded")):
            if not _real_inertia(moments):
                v.fail(("vehicle", "mass", "cargo"), f"refused: the cargo's mass, centroid and gyration radii leave "
                                                     f"{what} no real inertia ({moments.round(1).tolist()} kg m^2)")
    if len(raw["vehicle"]["propulsion"]["engines"]) != N_ENGINES:
        v.fail(("vehicle", "propulsion", "engines"), f"expected {N_ENGINES} orbit-control engines "
                                                     "(telemetry.dictionary.N_ENGINES)")
    ins = raw["chaser"]["insertion"]
    if ins is not None:
        if ins["apogee_altitude_m"] < ins["perigee_altitude_m"]:
            v.fail(("chaser", "insertion", "apogee_altitude_m"), "expected apogee_altitude_m >= perigee_altitude_m")
        # the start is the insertion orbit: the relative state follows from it (and may be far outside 100 km)
        raw["chaser"]["r_LVLH_m"], raw["chaser"]["v_LVLH_mps"] = (list(map(float, x)) for x in insertion_relative(raw))
    # start inside the station: chaser hull sphere or its docking port inside the station body
    st = raw["station"]
    r = np.asarray(raw["chaser"]["r_LVLH_m"], float)
    if ins is None and np.linalg.norm(r) > MAX_START_RANGE_M:
        v.fail(("chaser", "r_LVLH_m"), f"refused: a start {np.linalg.norm(r) / 1e3:.0f} km from the station is far "
                                       f"outside the rendezvous region (<= {MAX_START_RANGE_M / 1e3:g} km)")
    speed = float(np.linalg.norm(raw["chaser"]["v_LVLH_mps"]))
    if ins is None and speed > MAX_START_SPEED_MPS:
        v.fail(("chaser", "v_LVLH_mps"), f"refused: a relative speed of {speed:.0f} m/s is another orbit, not a "
                                         f"rendezvous (<= {MAX_START_SPEED_MPS:g} m/s)")
    port_L = r + docking_dcm_LB(raw["chaser"]["att_error_deg"]) @ (
        np.asarray(raw["vehicle"]["geometry"]["docking_port_B_m"], float) - mass_properties(raw["vehicle"]["mass"])[0])
    hull = raw["vehicle"]["geometry"]["hull_radius_m"]
    for point, clearance, what in ((r, hull, "hull"), (port_L, 0.0, "docking port")):
        rho = math.hypot(point[0], point[2])
        y = point[1]
        dy = -y if y < 0 else max(0.0, y - st["body_length_m"])
        dr = max(0.0, rho - st["body_radius_m"])
        if math.hypot(dy, dr) <= clearance:
            v.fail(("chaser", "r_LVLH_m"), f"refused: the chaser {what} starts inside the station body "
                                           f"(radius {st['body_radius_m']} m, length {st['body_length_m']} m "
                                           f"aft of the port), r_LVLH_m = {list(r)}")
    # thermal network
    nodes = [n["name"] for n in th["nodes"]]
    if len(set(nodes)) != len(nodes):
        v.fail(("thermal", "nodes"), f"expected unique node names, got {nodes}")
    for key in ("conductances", "radiation"):
        for i, link in enumerate(th[key]):
            for end in ("a", "b"):
                if link[end] not in nodes:
                    v.fail(("thermal", key, i, end), f"expected a node name from thermal.nodes {nodes}, "
                                                     f"got {link[end]!r}")
            if link["a"] == link["b"]:
                v.fail(("thermal", key, i), "expected two different nodes")
    for i, z in enumerate(th["zones"]):
        if z["node"] not in nodes:
            v.fail(("thermal", "zones", i, "node"),
                   f"expected a node name from thermal.nodes {nodes}, got {z['node']!r}")
    if len(th["zones"]) != N_HEATER_ZONES:
        v.fail(("thermal", "zones"), f"expected {N_HEATER_ZONES} zones, got {len(th['zones'])}")
    _check_thermal_stability(raw, v, nodes)
    # faults and commands
    thr_names = set(names)
    for i, f in enumerate(raw["faults"]):
        kind, target, path = f["kind"], f["target"], ("faults", i)
        if kind in ("sensor_dropout", "sensor_bias") and target not in SENSORS:
            v.fail(path + ("target",), f"expected a sensor device name {list(SENSORS)}, got {target!r}")
        if kind in ("thruster_stuck_on", "thruster_failed_off") and target not in thr_names:
            v.fail(path + ("target",), f"expected a thruster name {sorted(thr_names)}, got {target!r}")
        if kind == "heater_open" and (isinstance(target, bool) or not isinstance(target, int)
                                      or not 0 <= target < N_HEATERS):
            v.fail(path + ("target",), f"expected a heater index 0..{N_HEATERS - 1}, got {target!r}")
        if kind in ("task_overrun", "task_exception") and not isinstance(target, str):
            v.fail(path + ("target",), f"expected a task name (string), got {target!r}")
        if kind == "task_overrun" and (isinstance(f.get("value"), bool) or not isinstance(f.get("value"), (int, float))
                                       or f["value"] <= 0):
            v.fail(path + ("value",), f"expected the extra execution time per call [us] > 0, got {f.get('value')!r}")
        if kind == "sensor_bias":
            n = BIAS_SIZES.get(target)
            if n is None:
                v.fail(path + ("target",), f"expected a biasable sensor {list(BIAS_SIZES)}, got {target!r}")
            val = f["value"]
            ok = (isinstance(val, (int, float)) and not isinstance(val, bool)) or (
                isinstance(val, list) and len(val) == n and all(
                    isinstance(e, (int, float)) and not isinstance(e, bool) for e in val))
            if not ok:
                v.fail(path + ("value",), f"expected a number or a list of {n} numbers for {target}, got {val!r}")
    _check_commands(raw, v)
    _check_dispersions(raw, v)


def command_packet(c, seq: int) -> bytes:
    """The uplink packet of one scenario command (a dict or table with ``name``, ``args``, ``exec_time_s``).

    A command with ``exec_time_s`` goes up as TIME_TAG enclosing it (inner sequence count ``seq + 1``).
    Raises ``PacketError`` naming the argument the packet dictionary refuses.
    """
    packet = tc_codec(c["name"]).pack(seq, **dict(c.get("args") or {}))
    exec_s = c.get("exec_time_s")
    if exec_s is None:
        return packet
    inner = tc_codec(c["name"]).pack((seq + 1) % (1 << 14), **dict(c.get("args") or {}))
    slots = next(a.count for a in CMD_BY_NAME[TIME_TAG].args if a.name == "packet")
    if len(inner) > slots:
        raise PacketError(c["name"], "args", "ARG_OUT_OF_RANGE",
                          f"{len(inner)}-byte packet does not fit TIME_TAG's {slots} bytes")
    try:
        return tc_codec(TIME_TAG).pack(seq, exec_time_s=float(exec_s), packet_len=len(inner),
                                       packet=list(inner) + [0] * (slots - len(inner)))
    except PacketError as err:
        raise PacketError(c["name"], "exec_time_s", err.reason, str(err)) from None


def _arm_window_s() -> float | None:
    """[s] ARM-to-FIRE window of the flight software's commanding (fsw/config/flight.toml), None if unreadable."""
    try:
        with open(FLIGHT_CONFIG, "rb") as f:
            return float(tomllib.load(f)["commanding"]["arm_window_s"])
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError):
        return None


def _check_commands(raw: dict, v: _Validator) -> None:
    """Each command as the flight software will get it: known, encodable, in the run, armed when hazardous."""
    duration = raw["duration_s"]
    for i, c in enumerate(raw["commands"]):
        path = ("commands", i)
        name = c["name"]
        if name not in CMD_BY_NAME:
            v.fail(path + ("name",), f"expected a telecommand of the packet dictionary {sorted(CMD_BY_NAME)}, "
                                     f"got {name!r}")
        if name == TIME_TAG:
            v.fail(path + ("name",), "a time-tagged command is written as the command's own name and args plus "
                                     "exec_time_s (the mission time it executes at), not as TIME_TAG packet bytes")
        if c["time_s"] > duration:
            v.fail(path + ("time_s",), f"expected a time within the run (<= {duration} s), got {c['time_s']!r}")
        exec_s = c.get("exec_time_s")
        if exec_s is not None and not c["time_s"] <= exec_s <= duration:
            v.fail(path + ("exec_time_s",), f"expected a time between the uplink time_s {c['time_s']} s and the end "
                                            f"of the run {duration} s, got {exec_s!r}")
        try:
            command_packet(c, 0)
        except PacketError as err:
            key = err.field if err.field in ("exec_time_s", "args") else f"args.{err.field}"
            v.fail(path + tuple(key.split(".")), f"{name} refuses it: {err}")
    _check_arming(raw, v)


def _check_arming(raw: dict, v: _Validator) -> None:
    """Every hazardous command executes within the arm window after an ARM of its function code."""
    window = _arm_window_s()
    arm_fc = CMD_BY_NAME["ARM"].function_code
    hazardous = {c.function_code: c.name for c in CMD_BY_NAME.values() if c.hazardous}
    def exec_s(c) -> float:
        return c["time_s"] if c.get("exec_time_s") is None else c["exec_time_s"]

    order = sorted(range(len(raw["commands"])), key=lambda i: (exec_s(raw["commands"][i]), i))
    armed: tuple[int, float] | None = None  # (function code, execution time [s])
    for i in order:
        c = raw["commands"][i]
        t = exec_s(c)
        cmd = CMD_BY_NAME[c["name"]]
        if cmd.function_code == arm_fc and cmd.name == "ARM":
            target = int(c["args"]["target_fc"])
            if target not in hazardous:
                v.fail(("commands", i, "args", "target_fc"),
                       f"expected the function code of a hazardous command {hazardous}, got {target}")
            armed = (target, t)
        elif cmd.hazardous:
            if armed is None or armed[0] != cmd.function_code:
                v.fail(("commands", i, "name"), f"hazardous command {cmd.name} needs an ARM with target_fc = "
                                                f"{cmd.function_code} before it (the flight software rejects it)")
            if window is not None and t - armed[1] > window:
                v.fail(("commands", i, "time_s"), f"hazardous command {cmd.name} executes {t - armed[1]:g} s after "
                                                  f"its ARM; the arm window is {window:g} s (fsw/config/flight.toml)")
            armed = None


def _check_thermal_stability(raw: dict, v: _Validator, nodes: list[str]) -> None:
    th = raw["thermal"]
    idx = {n: i for i, n in enumerate(nodes)}
    g = np.zeros(len(nodes))
    for link in th["conductances"]:
        g[idx[link["a"]]] += link["G_W_K"]
        g[idx[link["b"]]] += link["G_W_K"]
    lin = 4.0 * SIGMA_W_M2_K4 * THERMAL_STABILITY_T_K ** 3
    for link in th["radiation"]:
        g[idx[link["a"]]] += lin * link["R_m2"]
        g[idx[link["b"]]] += lin * link["R_m2"]
    for i, n in enumerate(th["nodes"]):
        g[i] += lin * n["eps"] * n["area_m2"]
    h = 1.0 / th["rate_hz"] / th["substeps"]
    for i, n in enumerate(th["nodes"]):
        tau = n["capacity_J_K"] / g[i] if g[i] > 0 else math.inf
        if h > THERMAL_STABILITY_MARGIN * 2.0 * tau:
            v.fail(("thermal", "nodes", i, "capacity_J_K"),
                   f"refused: explicit thermal substep {h:.3g} s exceeds the stability limit "
                   f"{THERMAL_STABILITY_MARGIN * 2.0 * tau:.3g} s of node {n['name']!r} "
                   f"(raise thermal.substeps or the capacity)")


def _lookup(raw: dict, dotted: str):
    cur = raw
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _check_dispersions(raw: dict, v: _Validator) -> None:
    """[dispersions] entries: {path = "a.b.c", kind = "normal" (sigma) | "uniform" (lo, hi)}."""
    spec = {"path": Str(), "kind": Str(DISPERSION_KINDS), "sigma": Opt(Any_()), "lo": Opt(Any_()),
            "hi": Opt(Any_()), "note": Opt(Str(), "")}
    for name, d in raw["dispersions"].items():
        path = ("dispersions", name)
        v.table(d, spec, path)
        target = _lookup(raw, d["path"])
        if target is None or isinstance(target, (bool, str, dict)):
            v.fail(path + ("path",), f"expected the dotted path of a numeric scenario value, got {d['path']!r}")
        shape = np.shape(target)
        keys = ("sigma",) if d["kind"] == "normal" else ("lo", "hi")
        for k in keys:
            val = d[k]
            arr = np.asarray(val, float) if val is not None and not isinstance(val, (str, dict, bool)) else None
            if arr is None or arr.shape not in ((), shape) or not np.all(np.isfinite(arr)):
                v.fail(path + (k,), f"expected a number or a list shaped like {d['path']} {list(shape)}, got {val!r}")
            if k == "sigma" and np.any(arr < 0):
                v.fail(path + (k,), f"expected sigma >= 0, got {val!r}")
        if d["kind"] == "uniform" and np.any(np.asarray(d["lo"], float) > np.asarray(d["hi"], float)):
            v.fail(path + ("lo",), "expected lo <= hi")
