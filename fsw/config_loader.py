"""Reading the flight configuration files into typed values, with errors that name file and key."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fsw.app import ConfigError
from fsw.core.control import GROUP_NAMES

CONFIG_DIR = Path(__file__).parent / "config"


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


class Section:
    """A TOML table whose getters check type and shape and name ``file:[section].key`` on error."""

    def __init__(self, doc: dict, path: Path, name: str):
        if name not in doc or not isinstance(doc[name], dict):
            raise ConfigError(f"{path}: missing table [{name}]")
        self._t = doc[name]
        self._where = f"{path}: [{name}]"

    def _get(self, key):
        if key not in self._t:
            raise ConfigError(f"{self._where}: missing key {key!r}")
        return self._t[key]

    def float(self, key: str, lo: float = -np.inf, hi: float = np.inf) -> float:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{self._where}.{key}: expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise ConfigError(f"{self._where}.{key}: {v} is outside [{lo}, {hi}]")
        return float(v)

    def int(self, key: str, lo: int = 0, hi: int = 2**31) -> int:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{self._where}.{key}: expected an integer in [{lo}, {hi}], got {v!r}")
        return v

    def array(self, key: str, shape: tuple | None = None, lo: float = -np.inf) -> np.ndarray:
        v = self._get(key)
        try:
            a = np.array(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{self._where}.{key}: expected numbers, got {v!r}") from None
        if shape is not None and a.shape != shape:
            raise ConfigError(f"{self._where}.{key}: expected shape {shape}, got {a.shape}")
        if np.any(a < lo) or not np.all(np.isfinite(a)):
            raise ConfigError(f"{self._where}.{key}: values must be finite and >= {lo}")
        return a


@dataclass(frozen=True)
class Vehicle:
    """The flight software's vehicle tables (fsw/config/vehicle.toml)."""

    mass_kg: float
    inertia_kg_m2: np.ndarray      # (3, 3) B frame
    port_B_m: np.ndarray           # (3,) docking port w.r.t. CoM, B
    isp_s: float
    mib_Ns: float
    thruster_names: tuple
    pos_B_m: np.ndarray            # (n, 3)
    dir_B: np.ndarray              # (n, 3) unit
    thrust_N: np.ndarray           # (n,)
    group_idx: np.ndarray          # (n,) int64, index into fsw.core.control.GROUP_NAMES
    # (3,) the centre of mass as loaded, from the loading manifest the ground uplinks, in the table's B frame (whose
    # origin is the reference load's CoM); positions above are table values: lever arms are ``r - com_B_m``
    com_B_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    # the valves' thrust profile [s] (docs/sensors.md section 8): 10-90 % rise and tail-off and the delay from the
    # command, of the attitude thrusters, then of the translation thrusters; 0 for ideal valves
    rise_s: tuple = (0.0, 0.0)
    tail_s: tuple = (0.0, 0.0)
    valve_delay_s: tuple = (0.0, 0.0)

    def about_com(self, r_B_m) -> np.ndarray:
        """A point of the vehicle table (thruster, port, sensor) w.r.t. the centre of mass as loaded, B [m]."""
        return np.asarray(r_B_m, dtype=np.float64) - self.com_B_m


def load_vehicle(path: Path = CONFIG_DIR / "vehicle.toml") -> Vehicle:
    doc = read_toml(path)
    mass = Section(doc, path, "mass")
    geo = Section(doc, path, "geometry")
    prop = Section(doc, path, "propulsion")
    total = mass.float("dry_kg", 1.0) + mass.float("cargo_kg", 0.0) + mass.float("propellant_kg", 0.0)
    rows = prop._get("thrusters")
    names, pos, dirs, thrust, groups = [], [], [], [], []
    for i, t in enumerate(rows):
        where = f"{path}: [propulsion].thrusters[{i}]"
        try:
            names.append(str(t["name"]))
            p = np.array(t["pos"], float)
            d = np.array(t["dir"], float)
            f = float(t["thrust_N"])
            g = t["group"]
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: needs name, pos[3], dir[3], thrust_N, group ({err})") from None
        if p.shape != (3,) or d.shape != (3,) or not np.isclose(np.linalg.norm(d), 1.0) or f <= 0:
            raise ConfigError(f"{where} ({names[-1]}): pos and dir must be 3-vectors, dir unit, thrust > 0")
        if g not in GROUP_NAMES:
            raise ConfigError(f"{where} ({names[-1]}): group {g!r} not one of {GROUP_NAMES}")
        pos.append(p)
        dirs.append(d)
        thrust.append(f)
        groups.append(GROUP_NAMES.index(g))
    return Vehicle(
        mass_kg=total,
        inertia_kg_m2=np.diag(mass.array("inertia_kg_m2", (3,), 0.0)),
        port_B_m=geo.array("docking_port_B_m", (3,)),
        isp_s=prop.float("isp_s", 1.0),
        mib_Ns=prop.float("min_impulse_bit_Ns", 0.0),
        thruster_names=tuple(names),
        pos_B_m=np.array(pos),
        dir_B=np.array(dirs),
        thrust_N=np.array(thrust),
        group_idx=np.array(groups, dtype=np.int64),
        rise_s=(prop.float("rise_s", 0.0, 0.05), prop.float("rise_translation_s", 0.0, 0.05)),
        tail_s=(prop.float("tail_s", 0.0, 0.05), prop.float("tail_translation_s", 0.0, 0.05)),
        valve_delay_s=(prop.float("valve_delay_s", 0.0, 0.05), prop.float("valve_delay_translation_s", 0.0, 0.05)),
    )
