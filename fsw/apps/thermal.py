"""Thermal control: heater zones (thermostat or PI), the heater power budget, redundant units.

Once per call (at its schedule rate, flight.toml: 1 Hz) the app reads DEV_THERMISTORS, runs
:func:`fsw.core.thermal.thermal_step` over every zone, writes ACT_HEATERS.duty (zone z primary at
2z, backup at 2z+1 per the zone's active unit) and publishes THERMAL_ZONES and HEATER_CHECK.
Limit violations (entering and leaving, after a persistence) and changes of the shed zones are
events. FDIR and the ground switch heaters and thermistors through :meth:`ThermalControl.switch_heater`,
:meth:`ThermalControl.switch_thermistor` and the SET_HEATER_SETPOINT / SELECT_HEATER commands.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.apps.commanding import CommandRejected
from fsw.config_loader import Section, read_toml
from fsw.core import thermal as th
from fsw.dispatch import bind
from telemetry.dictionary import N_HEATER_ZONES

MODES = {"off": th.MODE_OFF, "thermostat": th.MODE_THERMOSTAT, "pi": th.MODE_PI}
DEVICES = ("HEATER", "THERMISTOR")


def _zone_sections(doc: dict, path: Path) -> list[Section]:
    zones = doc.get("zone")
    if not isinstance(zones, list) or len(zones) != N_HEATER_ZONES:
        raise ConfigError(f"{path}: expected {N_HEATER_ZONES} [[zone]] tables (telemetry N_HEATER_ZONES), "
                          f"got {len(zones) if isinstance(zones, list) else 0}")
    return [Section({f"zone #{i}": z}, path, f"zone #{i}") for i, z in enumerate(zones)]


class ThermalControl(App):
    """Heater-zone control at 1 Hz; publishes THERMAL_ZONES and HEATER_CHECK, drives ACT_HEATERS.

    Parameters
    ----------
    name, bus, events
        As :class:`fsw.app.App`.
    hal
        Gives ``sensor("DEV_THERMISTORS")`` and ``actuator("ACT_HEATERS")`` records.
    thermal_cfg_path : path
        fsw/config/thermal.toml.
    period_s : float
        [s] the app's period: the schedule's (flight.toml), the one source of rates.
    commanding : CommandDispatcher, optional
        When given, SET_HEATER_SETPOINT and SELECT_HEATER are registered with it.
    """

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "thermal"
    reads = ()
    writes = ("HEATER_CHECK", "THERMAL_ZONES")
    event_names = ("HEATER_SWITCHED", "LIMIT_RECOVERED", "LIMIT_VIOLATION", "SETPOINT_CHANGED", "SHED_CHANGED",
                   "THERMISTOR_SWITCHED")

    def __init__(self, name: str, bus: Bus, events, hal, thermal_cfg_path, period_s: float, commanding=None):
        super().__init__(name, bus, events)
        path = Path(thermal_cfg_path)
        doc = read_toml(path)
        budget = Section(doc, path, "budget")
        n = N_HEATER_ZONES
        if n > th.MAX_ZONES:
            raise ConfigError(f"{name}: {n} heater zones, the zone records hold {th.MAX_ZONES}")
        self.prm = np.zeros(1, th.THERMAL_PARAMS)
        p = self.prm[0]
        p["n_zones"] = n
        p["limit_W"] = self.power_limit_W = budget.float("power_limit_W", 0.0)
        if not 1e-3 <= period_s <= 3600.0:
            raise ConfigError(f"{name}: schedule period {period_s} s outside 0.001 .. 3600 s")
        p["dt_s"] = self.dt_s = float(period_s)
        p["rate_tau_s"] = budget.float("rate_filter_tau_s", 0.0)
        limit_s = Section(doc, path, "events").float("limit_persistence_s", 0.0)
        p["persistence"] = max(1, round(limit_s / self.dt_s))
        check_tau_s = Section(doc, path, "heater_check").float("temp_filter_tau_s", 0.0)
        p["check_alpha"] = self.dt_s / (check_tau_s + self.dt_s)
        plausible = Section(doc, path, "thermistors").array("plausible_range_C", (2,))
        if not plausible[0] < plausible[1]:
            raise ConfigError(f"{path}: [thermistors].plausible_range_C must be [low, high], got {plausible.tolist()}")
        p["plausible_C"] = plausible
        priority = np.zeros(n, np.int64)
        self.zone_names: list[str] = []
        for z, sec in enumerate(_zone_sections(doc, path)):
            zname = sec._get("name")
            mode = sec._get("mode")
            if not isinstance(zname, str) or mode not in MODES:
                raise ConfigError(f"{path}: [[zone]] #{z}: needs a string name and mode in {sorted(MODES)}, "
                                  f"got name={zname!r} mode={mode!r}")
            self.zone_names.append(zname)
            p["mode"][z] = MODES[mode]
            p["setpoint_C"][z] = sec.float("setpoint_C")
            p["hysteresis_C"][z] = sec.float("hysteresis_C", 0.0)
            p["kp_per_C"][z] = sec.float("kp_per_C", 0.0)
            p["ki_per_C_s"][z] = sec.float("ki_per_C_s", 0.0)
            p["heater_W"][z] = sec.float("heater_W", 0.0)
            p["limit_lo_C"][z] = sec.float("limit_lo_C")
            p["limit_hi_C"][z] = sec.float("limit_hi_C", p["limit_lo_C"][z])
            p["full_duty"][z] = sec.float("full_duty", 1e-3, 1.0)
            priority[z] = sec.int("priority", 0, n - 1)
            self._check_setpoint(z, p["setpoint_C"][z], ConfigError, f"{path}: [[zone]] #{z}")
        if len(set(priority.tolist())) != n:
            raise ConfigError(f"{path}: [[zone]] priorities must be distinct, got {priority.tolist()}")
        p["order"][:n] = np.argsort(priority, kind="stable")
        self.limit_lo_C, self.limit_hi_C = p["limit_lo_C"][:n], p["limit_hi_C"][:n]  # views

        self.therm = hal.sensor("DEV_THERMISTORS")
        self.heaters = hal.actuator("ACT_HEATERS")
        self.out = bus.publish("THERMAL_ZONES", name)
        self.check = bus.publish("HEATER_CHECK", name)
        self.out["power_limit_W"] = self.power_limit_W

        self.state = th.new_state()
        s = self.state[0]
        # views into the state record, for the Python side (events, summary, switching)
        self.unit, self.temp_C, self.energy_J = s["unit"][:n], s["temp_C"][:n], s["energy_J"][:2 * n]
        self.in_violation, self.min_C, self.max_C = s["in_violation"][:n], s["min_C"][:n], s["max_C"][:n]
        self.shed_mask = 0
        self.power_W = 0.0
        self.max_power_W = 0.0
        self.violations = 0
        self._step = bind(th.thermal_app_step, self.prm, self.state,
                          *(r.reshape(1) for r in (self.therm, self.heaters, self.out, self.check)), sample=(0,))

        if commanding is not None:
            commanding.register("SET_HEATER_SETPOINT", self._cmd_set_setpoint)
            commanding.register("SELECT_HEATER", self._cmd_select_heater)

    # ------------------------------------------------------------------ checks
    def _check_setpoint(self, zone: int, setpoint_C: float, error, where: str) -> None:
        """The thermostat band (setpoint +- hysteresis) must lie inside the zone's limits."""
        p = self.prm[0]
        h = p["hysteresis_C"][zone]
        lo, hi = p["limit_lo_C"][zone], p["limit_hi_C"][zone]
        if not (lo < setpoint_C - h and setpoint_C + h < hi):
            raise error(f"{where}: setpoint {setpoint_C:g} C +- {h:g} C is not inside limits [{lo:g}, {hi:g}] C")

    def _check_zone(self, zone: int) -> int:
        if not 0 <= zone < N_HEATER_ZONES:
            raise IndexError(f"{self.name}: zone {zone} out of range 0..{N_HEATER_ZONES - 1}")
        return int(zone)

    # ------------------------------------------------------------------ unit switching (FDIR, ground)
    def switch_heater(self, zone: int, unit: int, t_ns: int) -> None:
        """Make ``unit`` (0 primary, 1 backup) the active heater of ``zone`` from the next step."""
        z = self._check_zone(zone)
        if unit not in (0, 1):
            raise ValueError(f"{self.name}: heater unit must be 0 or 1, got {unit!r}")
        old = int(self.unit[z])
        self.unit[z] = unit
        self.state[0]["full_ref_C"][z] = np.nan  # the new heater is judged afresh
        self.emit("HEATER_SWITCHED", "WARNING" if unit else "INFO",
                  f"zone {z} heater unit {old} -> {unit}", (float(z), float(unit)))

    def switch_thermistor(self, zone: int, t_ns: int, backup: bool = True) -> None:
        """Control ``zone`` from its backup thermistor (``backup=False`` re-selects the primary)."""
        z = self._check_zone(zone)
        bit = 1 << (2 * z)
        s = self.state[0]
        s["inhibit_mask"] = s["inhibit_mask"] | bit if backup else s["inhibit_mask"] & ~bit
        self.emit("THERMISTOR_SWITCHED", "WARNING" if backup else "INFO",
                  f"zone {z} thermistor -> {'backup' if backup else 'primary'}", (float(z), float(backup)))

    def switch_unit(self, device: str, zone: int, t_ns: int) -> None:
        """FDIR SWITCH_UNIT:<device>/<zone>: go to the backup heater or thermistor of ``zone``."""
        if device == "HEATER":
            self.switch_heater(zone, 1, t_ns)
        elif device == "THERMISTOR":
            self.switch_thermistor(zone, t_ns)
        else:
            raise ValueError(f"{self.name}: cannot switch device {device!r}; known {DEVICES}")

    @property
    def thermistor_backup(self) -> np.ndarray:
        """Per zone, True when the zone is controlled from its backup thermistor."""
        mask = int(self.state[0]["inhibit_mask"])
        return np.array([(mask >> (2 * z)) & 1 == 1 for z in range(N_HEATER_ZONES)])

    # ------------------------------------------------------------------ commands
    def _cmd_set_setpoint(self, args, t_ns: int) -> None:
        z = int(args["zone"])
        sp = float(args["setpoint_C"])
        self._check_setpoint(z, sp, lambda text: CommandRejected("ARG_OUT_OF_RANGE", text), f"zone {z}")
        old = float(self.prm[0]["setpoint_C"][z])
        self.prm[0]["setpoint_C"][z] = sp
        self.emit("SETPOINT_CHANGED", "INFO", f"zone {z} setpoint {old:.1f} -> {sp:.1f} C", (float(z), sp))

    def _cmd_select_heater(self, args, t_ns: int) -> None:
        self.switch_heater(int(args["zone"]), int(args["unit"]), t_ns)

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        power_W, shed, flags = self._step(t_ns)
        self.power_W = power_W
        self.max_power_W = max(self.max_power_W, power_W)
        if flags:
            self._limit_events(flags)
        if shed != self.shed_mask:
            self.emit("SHED_CHANGED", "WARNING" if shed else "INFO",
                      f"heater shedding 0x{self.shed_mask:02x} -> 0x{shed:02x}", (float(shed), power_W))
            self.shed_mask = shed

    def _limit_events(self, flags: int) -> None:
        for z in range(N_HEATER_ZONES):
            t = float(self.temp_C[z])
            if flags >> (th.FLAG_VIOLATION + z) & 1:
                self.violations += 1
                side = "below" if t < self.limit_lo_C[z] else "above"
                lim = self.limit_lo_C[z] if side == "below" else self.limit_hi_C[z]
                self.emit("LIMIT_VIOLATION", "WARNING", f"{self.zone_names[z][:16]} {t:.1f} C {side} {lim:g} C",
                          (float(z), t))
            if flags >> (th.FLAG_RECOVERED + z) & 1:
                self.emit("LIMIT_RECOVERED", "INFO", f"{self.zone_names[z][:16]} back in limits {t:.1f} C",
                          (float(z), t))

    # ------------------------------------------------------------------ run summary
    def summary(self) -> dict:
        """The run summary's ``thermal`` section: per-zone extremes vs limits, heater energy [J]."""
        zones = []
        for z in range(N_HEATER_ZONES):
            seen = math.isfinite(self.min_C[z])
            lo, hi = float(self.limit_lo_C[z]), float(self.limit_hi_C[z])
            zones.append({
                "name": self.zone_names[z],
                "min_C": float(self.min_C[z]) if seen else None,
                "max_C": float(self.max_C[z]) if seen else None,
                "limit_lo_C": lo,
                "limit_hi_C": hi,
                "within_limits": bool(seen and lo <= self.min_C[z] and self.max_C[z] <= hi),
                "heater_energy_J": {"primary": float(self.energy_J[2 * z]), "backup": float(self.energy_J[2 * z + 1])},
                "active_unit": int(self.unit[z]),
            })
        return {"zones": zones, "power_limit_W": self.power_limit_W, "max_power_W": float(self.max_power_W),
                "limit_violations": self.violations}
