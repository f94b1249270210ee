"""What the console knows of the flight it watches, read from the flight configuration files.

The console never imports or calls the flight software; like ``qz report``, it reads the flight's
configuration tables as data: the limits the flight itself applies (``gnc.toml``: corridor, speed
profile, closing-rate and attitude abort thresholds, hold points; ``thermal.toml``: zone limits;
``flight.toml``: the schedule, task budgets and the CPU margin; ``vehicle.toml``: the propellant load).
By default the tables shipped with the flight software (``fsw/config``, found without importing it);
``qz console --flight-config DIR`` names another folder (a bench flying its own tables).
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path

from telemetry.dictionary import EVENT_SOURCES
from telemetry.errors import InputError

FILES = ("flight.toml", "gnc.toml", "thermal.toml", "vehicle.toml")


class ConfigError(InputError):
    """A flight configuration folder or file the console cannot use; one line naming it."""


def shipped_config_dir() -> Path:
    """``fsw/config`` of the installed flight software, located without importing it."""
    spec = importlib.util.find_spec("fsw")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the flight software's configuration (fsw/config) is not installed: give --flight-config")
    return Path(next(iter(spec.submodule_search_locations))) / "config"


def _read(folder: Path, name: str) -> dict:
    path = folder / name
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--flight-config {folder}: no {name} in it") from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: {str(err).splitlines()[0]}") from None


def _get(doc: dict, path: str, file: str):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"{file}: {path} missing (the console's limits come from it)")
        node = node[key]
    return node


@dataclass(frozen=True)
class Zone:
    name: str
    limit_lo_C: float
    limit_hi_C: float


@dataclass(frozen=True)
class FlightConfig:
    """The numbers of the flight configuration that the console shows and colours against."""

    folder: Path
    task_names: tuple[str, ...]           # schedule order: EXEC_TASK_TIMING.task_id and EVENT.source_id
    task_budget_us: tuple[float, ...]
    cpu_fraction: float                   # a slot's CPU allowance, fraction of the minor frame
    minor_frame_us: float
    profile_range_m: tuple[float, ...]    # speed profile breakpoints (axial distance, ascending)
    profile_speed_mps: tuple[float, ...]
    closing_rate_factor: float            # the flight aborts above factor x profile + margin
    closing_rate_margin_mps: float
    corridor_half_angle_deg: float
    corridor_min_radius_m: float
    attitude_error_limit_deg: float
    kos_radius_m: float
    hold_distances_m: tuple[float, ...]
    valid_max_sigma_r_m: float            # navigation is invalid above this position 1-sigma
    propellant_kg: float
    zones: tuple[Zone, ...]
    power_limit_W: float

    def source_names(self) -> dict[int, str]:
        """EVENT.source_id -> name as in events.log: schedule index for a task, then the fixed sources."""
        return {**dict(enumerate(self.task_names)), **EVENT_SOURCES}


def load_flight_config(folder: str | Path | None = None) -> FlightConfig:
    """Read the flight configuration folder; ConfigError (one line) naming a missing file or key."""
    folder = Path(folder) if folder is not None else shipped_config_dir()
    if not folder.is_dir():
        raise ConfigError(f"--flight-config {folder}: no such folder")
    flight, gnc, thermal, vehicle = (_read(folder, name) for name in FILES)
    schedule = _get(flight, "schedule", "flight.toml")
    try:
        names = tuple(str(row["task"]) for row in schedule)
        budgets = tuple(float(row["budget_us"]) for row in schedule)
        zones = tuple(Zone(str(z["name"]), float(z["limit_lo_C"]), float(z["limit_hi_C"]))
                      for z in _get(thermal, "zone", "thermal.toml"))
        cfg = FlightConfig(
            folder=folder, task_names=names, task_budget_us=budgets,
            cpu_fraction=float(_get(flight, "executive.cpu_fraction", "flight.toml")),
            minor_frame_us=float(_get(flight, "executive.minor_frame_ns", "flight.toml")) / 1e3,
            profile_range_m=tuple(map(float, _get(gnc, "guidance.profile_range_m", "gnc.toml"))),
            profile_speed_mps=tuple(map(float, _get(gnc, "guidance.profile_speed_mps", "gnc.toml"))),
            closing_rate_factor=float(_get(gnc, "docking.closing_rate_factor", "gnc.toml")),
            closing_rate_margin_mps=float(_get(gnc, "docking.closing_rate_margin_mps", "gnc.toml")),
            corridor_half_angle_deg=float(_get(gnc, "docking.corridor_half_angle_deg", "gnc.toml")),
            corridor_min_radius_m=float(_get(gnc, "docking.corridor_min_radius_m", "gnc.toml")),
            attitude_error_limit_deg=float(_get(gnc, "docking.attitude_error_limit_deg", "gnc.toml")),
            kos_radius_m=float(_get(gnc, "docking.kos_radius_m", "gnc.toml")),
            hold_distances_m=tuple(map(float, _get(gnc, "guidance.hold_distances_m", "gnc.toml"))),
            valid_max_sigma_r_m=float(_get(gnc, "navigation.valid_max_sigma_r_m", "gnc.toml")),
            propellant_kg=float(_get(vehicle, "mass.propellant_kg", "vehicle.toml")),
            zones=zones,
            power_limit_W=float(_get(thermal, "budget.power_limit_W", "thermal.toml")),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"--flight-config {folder}: a value the console reads is missing or not a number "
                          f"({err})") from None
    if len(cfg.profile_range_m) != len(cfg.profile_speed_mps) or len(cfg.profile_range_m) < 1:
        raise ConfigError(f"{folder / 'gnc.toml'}: guidance.profile_range_m and profile_speed_mps differ in length")
    return cfg
