"""Thermal control: heater zones (thermostat or PI), the heater power budget, redundant units.

Once per call (1 Hz, thermal.toml ``control_period_s``) the app reads DEV_THERMISTORS, runs
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
from fsw.core.dispatch import compiled_entry
from telemetry.dictionary import N_HEATER_ZONES

NS_PER_S = 1e9
MODES = {"off": th.MODE_OFF, "thermostat": th.MODE_THERMOSTAT, "pi": th.MODE_PI}
DEVICES = ("HEATER", "THERMISTOR")

EVT_LIMIT_VIOLATION = 700
EVT_LIMIT_RECOVERED = 701
EVT_SHED_CHANGED = 702
EVT_HEATER_SWITCHED = 703
EVT_THERMISTOR_SWITCHED = 704
EVT_SETPOINT_CHANGED = 705
EVT_PERIOD_MISMATCH = 706



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
    commanding : CommandDispatcher, optional
        When given, SET_HEATER_SETPOINT and SELECT_HEATER are registered with it.
    """

    def __init__(self, name: str, bus: Bus, events, hal, thermal_cfg_path, commanding=None):
        super().__init__(name, bus, events)
        path = Path(thermal_cfg_path)
        doc = read_toml(path)
        budget = Section(doc, path, "budget")
        self.power_limit_W = budget.float("power_limit_W", 0.0)
        self.dt_s = budget.float("control_period_s", 1e-3, 3600.0)
        self.rate_tau_s = budget.float("rate_filter_tau_s", 0.0)
        limit_s = Section(doc, path, "events").float("limit_persistence_s", 0.0)
        self.limit_persistence = max(1, round(limit_s / self.dt_s))
        check_tau_s = Section(doc, path, "heater_check").float("temp_filter_tau_s", 0.0)
        plausible = Section(doc, path, "thermistors").array("plausible_range_C", (2,))
        if not plausible[0] < plausible[1]:
            raise ConfigError(f"{path}: [thermistors].plausible_range_C must be [low, high], got {plausible.tolist()}")
        self.plausible_C = (float(plausible[0]), float(plausible[1]))
        self._check_alpha = self.dt_s / (check_tau_s + self.dt_s)

        n = N_HEATER_ZONES
        self.params = np.zeros((th.N_PARAMS, n))
        self.mode = np.zeros(n, np.int64)
        self.limit_lo_C = np.zeros(n)
        self.limit_hi_C = np.zeros(n)
        self.full_duty = np.zeros(n)
        priority = np.zeros(n, np.int64)
        self.zone_names: list[str] = []
        for z, sec in enumerate(_zone_sections(doc, path)):
            zname = sec._get("name")
            mode = sec._get("mode")
            if not isinstance(zname, str) or mode not in MODES:
                raise ConfigError(f"{path}: [[zone]] #{z}: needs a string name and mode in {sorted(MODES)}, "
                                  f"got name={zname!r} mode={mode!r}")
            self.zone_names.append(zname)
            self.mode[z] = MODES[mode]
            self.params[th.P_SETPOINT_C, z] = sec.float("setpoint_C")
            self.params[th.P_HYST_C, z] = sec.float("hysteresis_C", 0.0)
            self.params[th.P_KP_PER_C, z] = sec.float("kp_per_C", 0.0)
            self.params[th.P_KI_PER_C_S, z] = sec.float("ki_per_C_s", 0.0)
            self.params[th.P_HEATER_W, z] = sec.float("heater_W", 0.0)
            self.limit_lo_C[z] = sec.float("limit_lo_C")
            self.limit_hi_C[z] = sec.float("limit_hi_C", self.limit_lo_C[z])
            self.full_duty[z] = sec.float("full_duty", 1e-3, 1.0)
            priority[z] = sec.int("priority", 0, n - 1)
            self._check_setpoint(z, self.params[th.P_SETPOINT_C, z], ConfigError, f"{path}: [[zone]] #{z}")
        if len(set(priority.tolist())) != n:
            raise ConfigError(f"{path}: [[zone]] priorities must be distinct, got {priority.tolist()}")
        self.order = np.argsort(priority, kind="stable").astype(np.int64)

        self.therm = hal.sensor("DEV_THERMISTORS")
        self.heaters = hal.actuator("ACT_HEATERS")
        self.out = bus.publish("THERMAL_ZONES", name)
        self.check = bus.publish("HEATER_CHECK", name)
        self.out["power_limit_W"] = self.power_limit_W

        self.unit = np.zeros(n, np.int64)
        self.state = th.init_state(n)
        self.temp_C = np.full(n, np.nan)
        self.granted_W = np.zeros(n)
        self.duty = np.zeros(2 * n)
        self._therm_C = np.zeros(2 * n)
        self._therm_inhibit = 0  # bit i set: thermistor i deselected (FDIR or ground)
        self.shed_mask = 0
        self.power_W = 0.0
        # Heater check (filtered temperature, its value at full duty) and the run's extremes, per zone.
        self._book = np.full((th.N_BOOK, n), np.nan)
        self._book[th.B_MIN_C] = np.inf
        self._book[th.B_MAX_C] = -np.inf
        # Limit monitor: consecutive samples outside / inside limits and the latched violation.
        self._counts = np.zeros((2, n), np.int64)
        self.in_violation = np.zeros(n, np.bool_)
        self.energy_J = np.zeros(2 * n)  # commanded heater energy, primary at 2z, backup at 2z+1
        self.max_power_W = 0.0
        self.violations = 0
        self._last_t_ns: int | None = None
        self._period_warned = False
        self._args = (self._therm_C, self.params, self.mode, self.unit, self.order, self.power_limit_W, self.dt_s,
                      self.rate_tau_s, self.state, self.temp_C, self.granted_W, self.duty, self._check_alpha,
                      self.full_duty, self.limit_lo_C, self.limit_hi_C, self.limit_persistence, self._book,
                      self._counts, self.in_violation, self.energy_J,
                      *(r.reshape(1) for r in (self.therm, self.heaters, self.out, self.check)))
        self._kernel = compiled_entry(th.thermal_app_step, 0, 0, *self.plausible_C, *self._args)

        if commanding is not None:
            commanding.register("SET_HEATER_SETPOINT", self._cmd_set_setpoint)
            commanding.register("SELECT_HEATER", self._cmd_select_heater)

    # ------------------------------------------------------------------ checks
    def _check_setpoint(self, zone: int, setpoint_C: float, error, where: str) -> None:
        """The thermostat band (setpoint +- hysteresis) must lie inside the zone's limits."""
        h = self.params[th.P_HYST_C, zone]
        lo, hi = self.limit_lo_C[zone], self.limit_hi_C[zone]
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
        self._book[th.B_FULL_REF_C, z] = np.nan  # the new heater is judged afresh
        self.emit(EVT_HEATER_SWITCHED, "WARNING" if unit else "INFO",
                  f"zone {z} heater unit {old} -> {unit}", (float(z), float(unit)))

    def switch_thermistor(self, zone: int, t_ns: int, backup: bool = True) -> None:
        """Control ``zone`` from its backup thermistor (``backup=False`` re-selects the primary)."""
        z = self._check_zone(zone)
        bit = 1 << (2 * z)
        self._therm_inhibit = self._therm_inhibit | bit if backup else self._therm_inhibit & ~bit
        self.emit(EVT_THERMISTOR_SWITCHED, "WARNING" if backup else "INFO",
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
        return np.array([(self._therm_inhibit >> (2 * z)) & 1 == 1 for z in range(N_HEATER_ZONES)])

    # ------------------------------------------------------------------ commands
    def _cmd_set_setpoint(self, args, t_ns: int) -> None:
        z = int(args["zone"])
        sp = float(args["setpoint_C"])
        self._check_setpoint(z, sp, lambda text: CommandRejected("ARG_OUT_OF_RANGE", text), f"zone {z}")
        old = self.params[th.P_SETPOINT_C, z]
        self.params[th.P_SETPOINT_C, z] = sp
        self.emit(EVT_SETPOINT_CHANGED, "INFO", f"zone {z} setpoint {old:.1f} -> {sp:.1f} C", (float(z), sp))

    def _cmd_select_heater(self, args, t_ns: int) -> None:
        self.switch_heater(int(args["zone"]), int(args["unit"]), t_ns)

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        if self._last_t_ns is not None and not self._period_warned:
            period_s = (t_ns - self._last_t_ns) / NS_PER_S
            if abs(period_s - self.dt_s) > 0.01 * self.dt_s:
                self._period_warned = True
                self.emit(EVT_PERIOD_MISMATCH, "ERROR", f"called every {period_s:.3g} s, config {self.dt_s:g} s",
                          (period_s, self.dt_s))
        self._last_t_ns = t_ns

        power_W, shed, flags = self._kernel(t_ns, self._therm_inhibit, *self.plausible_C, *self._args)
        self.power_W = power_W
        self.max_power_W = max(self.max_power_W, power_W)
        if flags:
            self._limit_events(flags)
        if shed != self.shed_mask:
            self.emit(EVT_SHED_CHANGED, "WARNING" if shed else "INFO",
                      f"heater shedding 0x{self.shed_mask:02x} -> 0x{shed:02x}", (float(shed), power_W))
            self.shed_mask = shed

    def _limit_events(self, flags: int) -> None:
        for z in range(N_HEATER_ZONES):
            t = float(self.temp_C[z])
            if flags >> (th.FLAG_VIOLATION + z) & 1:
                self.violations += 1
                side = "below" if t < self.limit_lo_C[z] else "above"
                lim = self.limit_lo_C[z] if side == "below" else self.limit_hi_C[z]
                self.emit(EVT_LIMIT_VIOLATION, "WARNING", f"{self.zone_names[z][:16]} {t:.1f} C {side} {lim:g} C",
                          (float(z), t))
            if flags >> (th.FLAG_RECOVERED + z) & 1:
                self.emit(EVT_LIMIT_RECOVERED, "INFO", f"{self.zone_names[z][:16]} back in limits {t:.1f} C",
                          (float(z), t))

    # ------------------------------------------------------------------ run summary
    @property
    def min_C(self) -> np.ndarray:
        """[degC] per zone, lowest temperature of the run (inf before the first reading)."""
        return self._book[th.B_MIN_C]

    @property
    def max_C(self) -> np.ndarray:
        """[degC] per zone, highest temperature of the run (-inf before the first reading)."""
        return self._book[th.B_MAX_C]

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
