"""Far-range guidance: from orbit insertion to the first hold point (5 km on -V-bar), on the orbit-control engines.

The onboard planner solves each leg of a manoeuvre plan (aim points at fixed times from the start of the
far range, ``[far_range]`` of gnc.toml) as Lambert's problem with J2 (fsw/core/targeting.py), from the
navigated chaser state and the uplinked station ephemeris. Before a plan is flown, every passive-abort
trajectory (each burn executed, every later burn missed) is propagated and must stay outside the approach
ellipsoid; a plan that fails is not flown, and an event says which burn and by how much. The plan is
solved again before each burn and at mid-course points as navigation improves. A ground manoeuvre plan
(FAR_BURN commands, time-tagged impulses) replaces the onboard one once it is complete and passes the same
check; FAR_PLAN_ONBOARD gives the planning back to the vehicle.

Each burn: slew at a limited rate from the docking attitude to the burn attitude (engines along +x_B), fire
the engines for as long as the delta-v takes (finite burn centred on the planned impulse time, cut off on
the delivered delta-v estimated from the on-times, the thrust and the mass), slew back. At the last burn's
end the vehicle is at the first hold: approach guidance takes over (station keeping, go/no-go).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fsw.app import App, Bus, ConfigError
from fsw.apps.commanding import CommandRejected
from fsw.config_loader import Section, read_toml
from fsw.core.attitude import quat_from_dcm, quat_to_dcm
from fsw.core.engines import engine_duty, engine_torque_observer
from fsw.core.targeting import (
    LAMBERT_OK,
    lambert_j2,
    lvlh_to_inertial,
    passive_min_ellipsoid,
    propagate_j2,
)
from telemetry.dictionary import FAR_PHASES, MODES, N_ENGINES, PLAN_SOURCES
from telemetry.units import NS_PER_S

G0_MPS2 = 9.80665  # standard gravity, defines Isp
PHASE = {name: code for code, name in FAR_PHASES.items()}
SOURCE = {name: code for code, name in PLAN_SOURCES.items()}
_ACTIVE_MODES = {code for code, name in MODES.items() if name == "PHASING"}
_MIN_DUTY = 0.05  # a burn's length is planned for at least this mean engine duty


@dataclass(frozen=True)
class Engines:
    """The orbit-control engines of the vehicle table."""

    thrust_N: np.ndarray     # (n,) per engine
    dir_B: np.ndarray        # (3,) unit thrust direction, common to all
    pos_B_m: np.ndarray      # (n, 3) where each engine's thrust acts, B (vehicle table origin)
    isp_s: float
    min_on_s: float          # shortest firing


def load_engines(vehicle_path) -> Engines:
    """The orbit-control engines of ``[propulsion].engines`` in the vehicle table."""
    doc = read_toml(vehicle_path)
    prop = Section(doc, vehicle_path, "propulsion")
    rows = prop._get("engines")
    if not isinstance(rows, list) or len(rows) != N_ENGINES:
        raise ConfigError(f"{vehicle_path}: [propulsion].engines must list {N_ENGINES} engines (ACT_ENGINES)")
    try:
        thrust = np.array([float(r["thrust_N"]) for r in rows])
        dirs = np.array([r["dir"] for r in rows], float)
        pos = np.array([r["pos"] for r in rows], float)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{vehicle_path}: [propulsion].engines: each needs pos[3], dir[3], thrust_N "
                          f"({err})") from None
    if dirs.shape != (N_ENGINES, 3) or pos.shape != (N_ENGINES, 3) or not np.all(np.isfinite(pos)):
        raise ConfigError(f"{vehicle_path}: [propulsion].engines: pos and dir must be 3-vectors")
    if np.any(thrust <= 0) or not np.allclose(dirs, dirs[0]) or not np.isclose(np.linalg.norm(dirs[0]), 1.0):
        raise ConfigError(f"{vehicle_path}: [propulsion].engines: thrust > 0 and one common unit direction")
    return Engines(thrust, dirs[0], pos, prop.float("engine_isp_s", 1.0), prop.float("engine_min_on_s", 0.0))


class FarRangeGuidance(App):
    """Plans, checks and flies the far-range transfer; publishes FAR_RANGE, ENGINE_PERIOD, ATT_REF, ACT_ENGINES."""

    # the app contract (fsw/contract.py, docs/app-contract.md)
    task = "far_range"
    reads = ("ATT_STATE", "MODE", "NAV_STATE", "ORBIT_REF", "PROPULSION", "THRUSTER_PERIOD")
    writes = ("ATT_REF", "ENGINE_PERIOD", "FAR_RANGE")
    config_section = "far_range"
    event_names = ("FAR_ARRIVED", "FAR_BURN", "FAR_BURN_END", "FAR_GROUND", "FAR_PLAN", "FAR_REJECT", "FAR_THROTTLE")

    def __init__(self, name: str, bus: Bus, events, hal, gnc: dict, path, vehicle, vehicle_path, guidance, modes,
                 period_s: float, *, enabled: bool, commanding=None):
        super().__init__(name, bus, events)
        fr = Section(gnc, path, "far_range")
        earth = Section(gnc, path, "earth")
        self.mu, self.re, self.j2 = earth.float("mu_m3_s2", 1.0), earth.float("radius_m", 1.0), earth.float("j2", 0, 1)
        self.port_L = Section(gnc, path, "station").array("port_LVLH_m", (3,))
        self.C_RL_dock = Section(gnc, path, "attitude_reference").array("C_RL", (3, 3))
        self.semi_axes = Section(gnc, path, "docking").array("ellipsoid_semi_axes_m", (3,), 1.0)
        self.aim_t = fr.array("aim_times_s", None, 0.0)
        self.aim_r = fr.array("aim_points_LVLH_m", (max(self.aim_t.shape[0] - 2, 0), 3)) if self.aim_t.shape[0] > 2 \
            else np.zeros((0, 3))
        if self.aim_t.ndim != 1 or self.aim_t.shape[0] < 2 or np.any(np.diff(self.aim_t) <= 0):
            raise ConfigError(f"{path}: [far_range].aim_times_s: at least two ascending burn times")
        self.homing_s = float(self.aim_t[-1] - self.aim_t[-2])  # the last leg: a new one after a missed arrival
        self.mcc_delays = fr.array("midcourse_delays_s", None, 0.0)
        self.safe_shifts = fr.array("safe_shifts_s", None)
        self.mcc_min_dv = fr.float("midcourse_min_dv_mps", 0.0)
        self.slew_rate = math.radians(fr.float("slew_rate_deg_s", 1e-3))
        self.point_tol = math.radians(fr.float("pointing_tolerance_deg", 0.0))
        self.lead_s = fr.float("replan_lead_s", 0.0)
        self.step_s = fr.float("propagation_step_s", 0.1)
        self.passive_step_s = fr.float("passive_step_s", 0.1)
        self.horizon_s = fr.float("passive_horizon_s", 0.0)
        self.margin = fr.float("passive_margin", 1.0)
        self.tol_m = fr.float("lambert_tolerance_m", 0.0)
        self.budget_mps = fr.float("dv_budget_mps", 0.0)
        self.rcs_max_dv = fr.float("rcs_max_dv_mps", 0.0)
        self.rcs_F = fr.float("rcs_thrust_N", 1.0)
        self.handover_m = fr.float("handover_tolerance_m", 0.0)
        eng = load_engines(vehicle_path)
        self.thrust_N, self.dir_B, self.isp_s, self.min_on_s = eng.thrust_N, eng.dir_B, eng.isp_s, eng.min_on_s
        self.F = float(self.thrust_N.sum())
        self.mdot_e = self.thrust_N / (self.isp_s * G0_MPS2)
        # attitude during engine burns (fsw/core/engines.py): each engine's torque about the flight's centre of mass
        # at full duty, the share of the attitude thrusters' authority the engines may take, the torque observer
        self.T_nom = np.cross(vehicle.about_com(eng.pos_B_m), self.thrust_N[:, None] * self.dir_B[None, :])
        u_max = Section(gnc, path, "attitude").array("u_max_Nm", (3,), 0.0)
        self.torque_limit = fr.float("burn_torque_share", 0.0, 1.0) * u_max
        self.obs_gain = min(1.0, float(period_s) / fr.float("burn_observer_tau_s", 1e-3))
        self.obs_min_duty = fr.float("burn_observer_min_duty", 0.0, 1.0)
        self.att_limit = math.radians(fr.float("burn_attitude_limit_deg", 0.0))
        self.max_stretch = fr.float("burn_max_stretch", 1.0)
        self.inertia = np.asarray(vehicle.inertia_kg_m2, float)
        self.d_eng = np.zeros(3)  # [N m] the engines' torque the table does not predict (kept from burn to burn)
        self._duty_for, self._duty_exp = None, 1.0  # _duty_expected's last answer and the d_eng it was for
        self._h = np.zeros(N_ENGINES)
        self.mass0 = float(vehicle.mass_kg)
        self.rcs_isp_g0 = float(vehicle.isp_s) * G0_MPS2
        self.period_s = float(period_s)
        r_hold = guidance.r_hold[0]
        self.hold_L = r_hold  # the first hold: chaser CoM w.r.t. the station port, LVLH
        self.guidance = guidance
        self.modes = modes
        self.enabled = bool(enabled)
        self.act = hal.actuator("ACT_ENGINES")
        self.state = bus.publish("FAR_RANGE", name)
        self.eng = bus.publish("ENGINE_PERIOD", name)
        self.ref = bus.publish("ATT_REF", name)
        self.phase = PHASE["IDLE"]
        self.source = SOURCE["NONE"]
        self.t0_ns = None
        self.plan: list[dict] = []      # burns still to fly: t_s (centre, mission), dv_N (3), dv_L (3)
        self.ground: dict[int, tuple] = {}
        self.ground_count = 0
        self.mcc_times: list[float] = []
        self.log: list[dict] = []       # burns flown: start, end, dv, duration, propellant, source
        self.rejections: list[dict] = []
        self.dv_total = 0.0
        self.prop_used = 0.0
        self.passive_ratio = math.nan
        self._burn = None
        self._slew = None
        self._work8 = np.zeros((8, 6))
        self._work12 = np.zeros((12, 6))
        self._sc = np.zeros((6, 6))
        self._out4 = np.zeros(4)
        self._arrived = False
        self._refreshed = math.nan
        self._cache = (None, 0.0, 0.0)  # the next burn, its slew start [s], the plan's delta-v [m/s]
        self._pub_due_ns = 0
        self._wake_ns = 0  # [ns] the next step with work while coasting
        self.hold_arrival_s = None
        self.arrival_shift_s = 0.0     # the arrival moved by the safety re-plans
        if commanding is not None:
            commanding.register("FAR_BURN", self._cmd_burn)
            commanding.register("FAR_PLAN_ONBOARD", self._cmd_onboard)

    def start(self) -> None:
        self.nav = self.bus.get("NAV_STATE", self.name)
        self.orbit = self.bus.get("ORBIT_REF", self.name)
        self.att = self.bus.get("ATT_STATE", self.name)
        self.prop = self.bus.get("PROPULSION", self.name)
        self.thr = self.bus.get("THRUSTER_PERIOD", self.name)  # the torque the attitude thrusters delivered
        self._mode = self.bus.get("MODE", self.name)

    # ------------------------------------------------------------------ geometry helpers
    def _chaser_N(self) -> np.ndarray:
        out = np.zeros(6)
        lvlh_to_inertial(self.orbit["rv_N"], self.orbit["C_LVLH_N"], self.orbit["omega_LN_L_rad_s"],
                         self.nav["r_LVLH_m"] + self.port_L, self.nav["v_LVLH_mps"], out)
        return out

    def _station_at(self, station_rv, dt_s) -> np.ndarray:
        s = station_rv.copy()
        if dt_s != 0.0:
            propagate_j2(s, dt_s, self.step_s, self.mu, self.re, self.j2, self._sc)
        return s

    def _frame(self, station_rv):
        r, v = station_rv[:3], station_rv[3:]
        x = r / np.linalg.norm(r)
        h = np.cross(r, v)
        z = h / np.linalg.norm(h)
        C = np.array([x, np.cross(z, x), z])
        return C, np.array([0.0, 0.0, np.linalg.norm(h) / (r @ r)])

    def _point_N(self, station_rv, r_L_port, v_L=None) -> np.ndarray:
        C, w = self._frame(station_rv)
        out = np.zeros(6)
        lvlh_to_inertial(station_rv, C, w, r_L_port + self.port_L, np.zeros(3) if v_L is None else v_L, out)
        return out

    @property
    def mass_kg(self) -> float:
        return self.mass0 - float(self.prop["prop_used_kg"]) - self.prop_used

    # ------------------------------------------------------------------ planning
    def _solve(self, t_now_s: float, first_t_s: float, times_s, aims_L):
        """The burns from ``first_t_s`` through the aim points (mission times ``times_s``, the last one the hold).
        Returns (burns, None) or (None, reason)."""
        chaser = self._chaser_N()
        station = self.orbit["rv_N"].copy()
        t_prev = t_now_s
        c = chaser.copy()
        propagate_j2(c, first_t_s - t_prev, self.step_s, self.mu, self.re, self.j2, self._sc)
        s = self._station_at(station, first_t_s - t_prev)
        burns = []
        t_k = first_t_s
        for j, t_next in enumerate(times_s):
            s_next = self._station_at(s, t_next - t_k)
            last = j == len(times_s) - 1
            aim = self._point_N(s_next, self.hold_L if last else aims_L[j])
            v1, v2 = np.zeros(3), np.zeros(3)
            status, miss = lambert_j2(c[:3], aim[:3], t_next - t_k, np.cross(c[:3], c[3:]), self.mu, self.re, self.j2,
                                      self.step_s, 8, self.tol_m, v1, v2, self._work8)
            if status != LAMBERT_OK:
                return None, f"leg {j}: no transfer (status {status}, miss {miss:.0f} m)"
            burns.append({"t_s": t_k, "dv_N": v1 - c[3:], "pre_N": c.copy(), "station_N": s.copy()})
            c = np.concatenate([aim[:3], v2])
            s = s_next
            t_k = t_next
        burns.append({"t_s": t_k, "dv_N": aim[3:] - c[3:], "pre_N": c.copy(), "station_N": s.copy()})
        return burns, None

    def _check(self, burns) -> tuple[float, int, float]:
        """Least ellipsoid ratio of the passive-abort trajectories; the burn and the time of the worst."""
        t_end = burns[-1]["t_s"] + self.horizon_s
        worst, worst_k, worst_t = math.inf, -1, 0.0
        self._worst_xy = (0.0, 0.0)
        for k, b in enumerate(burns):
            after = b["pre_N"].copy()
            after[3:] += b["dv_N"]
            q = passive_min_ellipsoid(after, b["station_N"], t_end - b["t_s"], self.passive_step_s, self.semi_axes,
                                      self.mu, self.re, self.j2, self._work12, self._out4)
            if q < worst:
                worst, worst_k, worst_t = q, k, b["t_s"] + float(self._out4[1])
                self._worst_xy = (float(self._out4[2]), float(self._out4[3]))
        return worst, worst_k, worst_t

    def _accept(self, burns, t_ns: int, why: str, source: str) -> bool:
        ratio, k, t_worst = self._check(burns)
        if ratio < self.margin:
            self.rejections.append({"time_s": t_ns / NS_PER_S, "why": why, "burn": k, "ratio": ratio,
                                    "at_s": t_worst, "at_LVLH_m": list(self._worst_xy),
                                    "burns": [{"t_s": b["t_s"], "dv_N": b["dv_N"].tolist()} for b in burns]})
            self.emit("FAR_REJECT", "WARNING", f"{why}: burn {k} passive in ellipsoid x{ratio:.2f}",
                      (float(k), ratio))
            return False
        for b in burns:
            C, _ = self._frame(b["station_N"])
            b["dv_L"] = C @ b["dv_N"]
        self.plan = [b for b in burns if np.linalg.norm(b["dv_N"]) >= self.mcc_min_dv or b is burns[-1]]
        self.passive_ratio = ratio
        self.source = SOURCE[source]
        self._wake_ns = 0  # a new plan (a ground one arrives between steps): look at it at the next step
        dv = sum(float(np.linalg.norm(b["dv_N"])) for b in self.plan)
        self.emit("FAR_PLAN", "INFO", f"{why} plan {len(self.plan)} burns {dv:.1f} m/s x{ratio:.2f}",
                  (dv, ratio))
        return True

    def _replan(self, t_ns: int, first_t_s: float, why: str, rehome: bool = False) -> bool:
        """Solve again from the navigation: the first burn at ``first_t_s``, then the remaining aim points. With no
        aim time left (a plan flown to somewhere off the hold), ``rehome`` plans a new homing leg from here;
        otherwise the plan in hand is kept."""
        if self.source == SOURCE["GROUND"]:
            return False
        t_now = t_ns / NS_PER_S
        t0 = self.t0_ns / NS_PER_S
        times = [t0 + t for t in self.aim_t[1:] if t0 + t > first_t_s + 1.0]
        if not times and not rehome:
            return False
        if not times:  # every aim time has passed (a plan flown to somewhere off the hold): home in again from here
            self.aim_t[-1] = first_t_s + self.homing_s - t0
            times = [t0 + float(self.aim_t[-1])]
        k0 = len(self.aim_t) - 1 - len(times)  # aim points already passed
        aims = self.aim_r[k0:] if k0 < self.aim_r.shape[0] else np.zeros((0, 3))
        for shift in (0.0, *self.safe_shifts):
            # an unsafe plan is solved again with its arrival moved (a later or earlier arrival changes the
            # velocity it arrives with, and so where a missed arrival burn drifts)
            t_arrive = times[-1] + shift
            if len(times) > 1 and t_arrive <= times[-2] + self._mcc_lead_s() or t_arrive <= first_t_s + 60.0:
                continue
            burns, reason = self._solve(t_now, first_t_s, [*times[:-1], t_arrive], aims)
            if burns is None:
                self.emit("FAR_REJECT", "WARNING", f"{why}: {reason}", (0.0, 0.0))
                continue
            if self._accept(burns, t_ns, why if shift == 0.0 else f"{why} {shift:+.0f} s", "ONBOARD"):
                if shift != 0.0:
                    self.arrival_shift_s += shift
                    self.aim_t[-1] += shift
                return True
        return False

    # ------------------------------------------------------------------ ground plan
    def _cmd_burn(self, args, t_ns):
        slot, count = int(args["slot"]), int(args["count"])
        if slot >= count:
            raise CommandRejected("ARG_OUT_OF_RANGE", "slot beyond count")
        if count != self.ground_count:
            self.ground, self.ground_count = {}, count
        self.ground[slot] = (float(args["exec_time_s"]), np.asarray(args["dv_LVLH_mps"], float))
        if len(self.ground) < count:
            return
        plan = [self.ground[i] for i in range(count)]
        self.ground, self.ground_count = {}, 0
        if any(b[0] <= t_ns / NS_PER_S for b in plan) or any(np.diff([b[0] for b in plan]) <= 0):
            self.emit("FAR_REJECT", "WARNING", "ground plan not flown: burn times not ascending in the future")
            return
        t_now = t_ns / NS_PER_S
        c = self._chaser_N()
        s = self.orbit["rv_N"].copy()
        burns, t_k = [], t_now
        for t_b, dv_L in plan:
            propagate_j2(c, t_b - t_k, self.step_s, self.mu, self.re, self.j2, self._sc)
            propagate_j2(s, t_b - t_k, self.step_s, self.mu, self.re, self.j2, self._sc)
            C, _ = self._frame(s)
            dv_N = C.T @ dv_L
            burns.append({"t_s": t_b, "dv_N": dv_N, "pre_N": c.copy(), "station_N": s.copy()})
            c[3:] += dv_N
            t_k = t_b
        if self._accept(burns, t_ns, "ground", "GROUND"):
            self.emit("FAR_GROUND", "INFO", f"ground plan of {count} burns replaces the onboard one",
                      (float(count), 0.0))

    def _cmd_onboard(self, args, t_ns):
        if self.source != SOURCE["GROUND"]:
            raise CommandRejected("ILLEGAL_IN_MODE", "no ground plan")
        self.source = SOURCE["ONBOARD"]
        self.plan = []
        self._wake_ns = 0
        if self.plan_needed(t_ns):
            return

    def plan_needed(self, t_ns: int) -> bool:
        first = t_ns / NS_PER_S + self.lead_s
        return self._replan(t_ns, first, "onboard", rehome=True)

    # ------------------------------------------------------------------ step
    def step(self, t_ns: int) -> None:
        if t_ns < self._wake_ns or not self.enabled or self._arrived:
            return  # coasting: nothing is due before the wake-up time (see _sleep)
        self._step(t_ns)
        self._sleep(t_ns)

    def _sleep(self, t_ns: int) -> None:
        """While coasting, the next step with work: a mid-course point, the next burn's slew, a held attitude's
        refresh, the telemetry refresh, a planning retry; every step otherwise."""
        if self.phase not in (PHASE["COAST"], PHASE["NO_PLAN"]):
            self._wake_ns = 0
            return
        due = [self._pub_due_ns]
        if self.plan:
            due.append(int(self._next_slew_s() * NS_PER_S))
            if self.mcc_times:
                due.append(int(self.mcc_times[0] * NS_PER_S))
        else:
            due.append(int(getattr(self, "_retry_s", 0.0) * NS_PER_S))
        if self._slew is not None:
            due.append(self._slew.hold_due_ns)
        self._wake_ns = min(due)

    def _step(self, t_ns: int) -> None:
        active = int(self._mode["mode"]) in _ACTIVE_MODES
        if not active and self.phase not in (PHASE["IDLE"], PHASE["NO_PLAN"], PHASE["SLEW_BACK"]):
            self._pause(t_ns)  # HOLD, SAFE or CAM from the ground or FDIR: no burn; a passive trajectory is safe
        if self.phase == PHASE["IDLE"]:
            if int(self._mode["mode"]) in _ACTIVE_MODES and self.nav["valid"] and self.orbit["seq"]:
                self.t0_ns = t_ns
                t0 = t_ns / NS_PER_S
                self._replan(t_ns, t0 + float(self.aim_t[0]), "initial")
                self.phase = PHASE["COAST"] if self.plan else PHASE["NO_PLAN"]
                if self.plan:
                    self.mcc_times = [t0 + d for d in self.mcc_delays if t0 + d < self._slew_start_s(self.plan[0])]
            self._publish(t_ns)
            return
        t = t_ns / NS_PER_S
        if self.phase in (PHASE["COAST"], PHASE["NO_PLAN"]):
            self._step_slew(t_ns)  # an attitude held between two close burns
            if not self.plan:
                if active and self.nav["valid"] and t >= getattr(self, "_retry_s", 0.0):
                    self._retry_s = t + 60.0
                    if self.plan_needed(t_ns):
                        self.phase = PHASE["COAST"]
            elif self.mcc_times and t >= self.mcc_times[0] and self.nav["valid"]:
                self.mcc_times.pop(0)
                # a correction small enough for the thrusters needs no slew; a larger one waits for the engines'
                for first in (t + self.lead_s, t + self._mcc_lead_s()):
                    if self.plan[0]["t_s"] - first > self._mcc_lead_s() and self._replan(t_ns, first, "mid-course"):
                        b = self.plan[0]
                        if abs(b["t_s"] - first) > 1e-3 or self._on_rcs(b):  # no correction needed, or a small one
                            break
            elif self.plan and t >= self._next_slew_s():
                if self.nav["valid"] and self._refreshed != self.plan[0]["t_s"]:
                    self._refreshed = self.plan[0]["t_s"]  # the burn with the freshest navigation (its time kept)
                    self._replan(t_ns, self.plan[0]["t_s"], "pre-burn")
                if self.plan and t >= self._slew_start_s(self.plan[0]) - 1.0:
                    if self._on_rcs(self.plan[0]):
                        self.phase = PHASE["SLEW"]  # no slew: the translation thrusters push in any direction
                    else:
                        self._begin_slew(t_ns)
        elif self.phase == PHASE["SLEW"]:
            self._step_slew(t_ns)
            b = self.plan[0]
            rcs = self._on_rcs(b)
            if (rcs or self._pointing_error() < self.point_tol) and t >= b["t_s"] - 0.5 * self._duration(b):
                self._ignite(t_ns)
        elif self.phase == PHASE["BURN"]:
            self._step_slew(t_ns)
            self._step_burn(t_ns)
        elif self.phase == PHASE["SLEW_BACK"]:
            self._step_slew(t_ns)
            if self._slew is None:
                self.phase = PHASE["COAST"] if self.plan else PHASE["ARRIVED"]
                if not self.plan and not active:
                    self.phase = PHASE["NO_PLAN"]  # paused: plans again once back in PHASING
                elif not self.plan:  # back in the docking attitude at the hold: approach guidance takes over
                    self._arrive(t_ns)
        self._publish(t_ns)

    def _pause(self, t_ns: int) -> None:
        """Stop the far range where it is (a burn in progress is cut off, the plan dropped, the attitude brought back);
        it plans again once the mode is PHASING again."""
        if self._burn is not None:
            if not self._burn["rcs"]:
                self.act["on_time_s"][:] = 0.0
                self.act["t_ns"] = t_ns
                self.act["seq"] += 1
            self._burn["dv"] -= max(self._burn["left"], 0.0) if not self._burn["rcs"] else 0.0
            self.plan = self.plan[:1]
            self._end_burn(t_ns)
        self.plan = []
        self.mcc_times = []
        self._retry_s = t_ns / NS_PER_S + 60.0
        if self._slew is not None:
            q_now = self._slew.at(t_ns, self._slew.q1 if self._slew.fixed_end else self._q_dock_N())[0]
            self._slew = _Slew(q_now, None, t_ns, self.slew_rate, fixed_end=False, q_end_now=self._q_dock_N())
            self.phase = PHASE["SLEW_BACK"]
        else:
            self.phase = PHASE["NO_PLAN"]
        self.emit("FAR_REJECT", "WARNING", f"far range paused in {MODES[int(self._mode['mode'])]}", (0.0, 0.0))

    def _mcc_lead_s(self) -> float:
        return self.lead_s + math.pi / self.slew_rate

    def _on_rcs(self, b) -> bool:
        """A burn small enough for the translation thrusters (no slew, any direction)."""
        return float(np.linalg.norm(b["dv_N"])) <= self.rcs_max_dv

    def _duration(self, b) -> float:
        if self._on_rcs(b):  # the thrusters give rcs_thrust_N along each LVLH axis at most: the largest component
            C = self.orbit["C_LVLH_N"]
            return float(np.abs(C @ b["dv_N"]).max()) * self.mass_kg / self.rcs_F
        return float(np.linalg.norm(b["dv_N"])) * self.mass_kg / (self.F * self._duty_expected())

    def _engine_torque(self) -> np.ndarray:
        """[N m] Each engine's torque at full duty as the flight predicts it, (engines, 3) B: the vehicle table's,
        plus half the learnt unpredicted torque each (fsw/core/engines.py, engine_torque_observer)."""
        return self.T_nom + 0.5 * self.d_eng

    def _duty_expected(self) -> float:
        """The engines' mean duty a burn can keep, from what the flight has learnt of their torque (1 until the
        first burn); solved again only when that has changed (the slew steps ask for it every step)."""
        if self._duty_for is None or not np.array_equal(self._duty_for, self.d_eng):
            h = np.zeros(N_ENGINES)
            engine_duty(self._engine_torque(), self.torque_limit, h)
            self._duty_for = self.d_eng.copy()
            self._duty_exp = max(0.5 * float(h.sum()), _MIN_DUTY)
        return self._duty_exp

    def _next_slew_s(self) -> float:
        """:meth:`_slew_start_s` of the next burn, computed once per burn (the coast steps only compare times)."""
        b = self.plan[0]
        if self._cache[0] is not b:
            self._cache = (b, self._slew_start_s(b), sum(float(np.linalg.norm(x["dv_N"])) for x in self.plan))
        return self._cache[1]

    def _slew_start_s(self, b) -> float:
        if self._on_rcs(b):
            return b["t_s"] - 0.5 * self._duration(b) - self.lead_s
        a = (self.C_RL_dock @ self.orbit["C_LVLH_N"]).T @ self.dir_B
        d = b["dv_N"] / max(float(np.linalg.norm(b["dv_N"])), 1e-12)
        angle = math.acos(max(-1.0, min(1.0, float(a @ d))))
        return b["t_s"] - 0.5 * self._duration(b) - angle / self.slew_rate - self.lead_s

    # ------------------------------------------------------------------ attitude reference
    def _q_dock_N(self) -> np.ndarray:
        q = np.zeros(4)
        quat_from_dcm(self.C_RL_dock @ self.orbit["C_LVLH_N"], q)
        return q

    def _q_burn_N(self, dv_N) -> np.ndarray:
        """The attitude nearest the docking attitude with the engines' axis along ``dv_N``."""
        C_dock = self.C_RL_dock @ self.orbit["C_LVLH_N"]       # rows: B axes in N
        a = C_dock.T @ self.dir_B                              # the engines' axis now, N
        b = dv_N / np.linalg.norm(dv_N)
        axis = np.cross(a, b)
        s, c = np.linalg.norm(axis), float(a @ b)
        if s < 1e-12:  # along the axis already, or exactly against it: turn about another body axis
            axis = C_dock[2] - (C_dock[2] @ a) * a
            axis /= np.linalg.norm(axis)
            angle = 0.0 if c > 0 else math.pi
        else:
            axis /= s
            angle = math.atan2(s, c)
        R = _rotation(axis, angle)                             # rotates a onto b (N)
        q = np.zeros(4)
        quat_from_dcm(C_dock @ R.T, q)
        return q

    def _begin_slew(self, t_ns: int) -> None:
        b = self.plan[0]
        q0 = self._q_dock_N() if self._slew is None else self._slew.at(t_ns, self._slew.q1)[0]
        q1 = self._q_burn_N(b["dv_N"])
        self._slew = _Slew(q0, q1, t_ns, self.slew_rate, fixed_end=True)
        self.phase = PHASE["SLEW"]
        self._step_slew(t_ns)

    def _step_slew(self, t_ns: int) -> None:
        sl = self._slew
        if sl is None:
            return
        end = sl.q1 if sl.fixed_end else self._q_dock_N()
        if sl.fixed_end and t_ns < sl.hold_due_ns:
            return  # holding an inertial attitude: its LVLH form turns at the orbital rate, refreshed once a second
        q, done = sl.at(t_ns, end)
        if done and sl.fixed_end:
            sl.hold_due_ns = t_ns + NS_PER_S
        C_RN = np.zeros((3, 3))
        quat_to_dcm(q, C_RN)
        ref = self.ref
        ref["C_RL"] = C_RN @ self.orbit["C_LVLH_N"].T
        ref["active"] = 1
        ref["t_ns"] = t_ns
        ref["seq"] += 1
        if done and not sl.fixed_end:
            ref["active"] = 0
            self._slew = None

    def _pointing_error(self) -> float:
        C_BN = np.zeros((3, 3))
        quat_to_dcm(self.att["q_BN"], C_BN)
        x_N = C_BN.T @ self.dir_B
        d = self.plan[0]["dv_N"]
        return math.acos(max(-1.0, min(1.0, float(x_N @ d) / float(np.linalg.norm(d)))))

    # ------------------------------------------------------------------ burn
    def _ignite(self, t_ns: int) -> None:
        b = self.plan[0]
        dv = float(np.linalg.norm(b["dv_N"]))
        self._burn = {"left": dv, "dir": b["dv_N"] / dv, "t0": t_ns, "dv": dv, "prop0": self.prop_used,
                      "planned_s": b["t_s"], "dv_L": b["dv_L"].tolist(), "rcs": self._on_rcs(b),
                      "end_ns": t_ns + int(self._duration(b) * NS_PER_S),
                      # engines: the attitude loop's view of them (torque observer, duty, pauses)
                      "w_prev": None, "t_prev": t_ns, "duty_prev": np.zeros(N_ENGINES),
                      "duty_sum": 0.0, "steps": 0, "paused_steps": 0, "throttled": False}
        if self._burn["rcs"]:  # thruster control delivers it (pending impulse, LVLH) and tells navigation
            self.guidance.external_impulse(self.orbit["C_LVLH_N"] @ b["dv_N"], t_ns)
        self.phase = PHASE["BURN"]
        self.emit("FAR_BURN", "INFO", f"burn {len(self.log)}: {dv:.2f} m/s, {self._duration(b):.0f} s", (dv, 0.0))

    def _step_burn(self, t_ns: int) -> None:
        bn = self._burn
        if bn["rcs"]:
            if t_ns >= bn["end_ns"]:
                self.dv_total += bn["dv"]
                self._end_burn(t_ns)
            return
        m = self.mass_kg
        if bn["left"] * m / self.F < self.min_on_s:  # delivered (what is left is shorter than a firing)
            self._end_burn(t_ns)
            return
        h = self._burn_duty(bn, t_ns)
        push = float(h @ self.thrust_N)
        on_full = min(self.period_s, bn["left"] * m / push) if push > 0.0 else 0.0
        on = h * on_full
        on[on < self.min_on_s] = 0.0
        self.act["on_time_s"][:] = on
        self.act["t_ns"] = t_ns
        self.act["seq"] += 1
        bn["duty_prev"] = on / self.period_s
        C_BN = np.zeros((3, 3))
        quat_to_dcm(self.att["q_BN"], C_BN)
        dv_N = (float(on @ self.thrust_N) / m) * (C_BN.T @ self.dir_B)
        bn["left"] -= float(dv_N @ bn["dir"])
        self.dv_total += float(np.linalg.norm(dv_N))
        self.prop_used += float(on @ self.mdot_e)
        e = self.eng
        e["dv_N_mps"] = dv_N
        e["dv_LVLH_mps"] = self.orbit["C_LVLH_N"] @ dv_N
        e["torque_B_Nm"] = bn["duty_prev"] @ bn["torque_B_Nm"]
        e["prop_used_kg"] = self.prop_used
        e["t_ns"] = t_ns
        e["seq"] += 1
        if bn["left"] <= 0.0:
            self._end_burn(t_ns)
        elif t_ns - bn["t0"] > self.max_stretch * (bn["end_ns"] - bn["t0"]):
            # the engines could not be fired hard enough for long enough: stop here, the rest is planned again
            self.emit("FAR_REJECT", "WARNING", f"burn {len(self.log)} cut after {self.max_stretch:.0f}x its "
                      f"duration: {bn['left']:.2f} m/s left", (bn["left"], 0.0))
            bn["dv"] -= max(bn["left"], 0.0)
            self._end_burn(t_ns)

    def _burn_duty(self, bn, t_ns: int) -> np.ndarray:
        """Each engine's duty this step: learn the engines' unpredicted torque from the last step, then fire as
        hard as keeps their predicted torque inside ``burn_torque_share`` of the attitude thrusters' authority
        (fsw/core/engines.py); none while the attitude error is beyond ``burn_attitude_limit_deg``."""
        w = np.asarray(self.att["omega_BN_B_rad_s"], float)
        if bn["w_prev"] is not None:
            engine_torque_observer(w, bn["w_prev"], self.inertia, np.asarray(self.thr["torque_B_Nm"], float),
                                   self.T_nom, bn["duty_prev"], (t_ns - bn["t_prev"]) / NS_PER_S, self.obs_gain,
                                   self.obs_min_duty, self.d_eng)
        bn["w_prev"], bn["t_prev"] = w, t_ns
        h = self._h
        bn["torque_B_Nm"] = self._engine_torque()  # this step's prediction (ENGINE_PERIOD carries it)
        engine_duty(bn["torque_B_Nm"], self.torque_limit, h)
        if float(np.linalg.norm(self.att["att_err_rad"])) > self.att_limit:
            h[:] = 0.0
            bn["paused_steps"] += 1
        mean = 0.5 * float(h.sum())
        bn["duty_sum"] += mean
        bn["steps"] += 1
        if mean < 0.95 and not bn["throttled"]:
            bn["throttled"] = True
            self.emit("FAR_THROTTLE", "INFO", f"burn {len(self.log)}: engines at {mean:.2f} of full thrust for "
                      f"attitude, unpredicted engine torque {np.linalg.norm(self.d_eng):.0f} N m",
                      (mean, float(np.linalg.norm(self.d_eng))))
        return h.copy()

    def _end_burn(self, t_ns: int) -> None:
        bn = self._burn
        dur = (t_ns - bn["t0"]) / NS_PER_S
        if bn["rcs"]:  # the thrusters' propellant is in PROPULSION; the burn's share, by the rocket equation
            bn["prop0"] = self.prop_used - self.mass_kg * (1.0 - math.exp(-bn["dv"] / self.rcs_isp_g0))
        self.log.append({"start_s": bn["t0"] / NS_PER_S, "duration_s": dur, "planned_centre_s": bn["planned_s"],
                         "dv_mps": bn["dv"], "dv_LVLH_mps": bn["dv_L"], "propellant_kg": self.prop_used - bn["prop0"],
                         "source": PLAN_SOURCES[self.source], "engine": "thrusters" if bn["rcs"] else "engines",
                         "mean_duty": None if bn["rcs"] else bn["duty_sum"] / max(bn["steps"], 1),
                         "paused_s": None if bn["rcs"] else bn["paused_steps"] * self.period_s})
        self.emit("FAR_BURN_END", "INFO", f"burn {len(self.log) - 1} done: {bn['dv']:.2f} m/s in {dur:.0f} s",
                  (bn["dv"], dur))
        self._burn = None
        self.plan.pop(0)
        t = t_ns / NS_PER_S
        self.mcc_times = [t + d for d in self.mcc_delays if self.plan and t + d < self._slew_start_s(self.plan[0])]
        if bn["rcs"]:  # the attitude never left the docking attitude (or the one held between burns)
            self.phase = PHASE["COAST"] if self.plan or self._slew is not None else PHASE["ARRIVED"]
            if not self.plan:
                if self._slew is not None:
                    q_now = self._slew.at(t_ns, self._slew.q1)[0]
                    self._slew = _Slew(q_now, None, t_ns, self.slew_rate, fixed_end=False, q_end_now=self._q_dock_N())
                    self.phase = PHASE["SLEW_BACK"]
                else:
                    self._arrive(t_ns)
            return
        q_now = self._slew.at(t_ns, self._slew.q1)[0]
        back_s = _angle(q_now, self._q_dock_N()) / self.slew_rate + self.lead_s
        if self.plan and not self._on_rcs(self.plan[0]) and self._slew_start_s(self.plan[0]) < t + 2.0 * back_s:
            # the next burn is near: hold this attitude (inertial) and slew from it to the next burn's
            self._slew = _Slew(q_now, q_now, t_ns, self.slew_rate, fixed_end=True)
            self.phase = PHASE["COAST"]
            return
        self._slew = _Slew(q_now, None, t_ns, self.slew_rate, fixed_end=False, q_end_now=self._q_dock_N())
        self.phase = PHASE["SLEW_BACK"]

    def _arrive(self, t_ns: int) -> None:
        """The plan is flown: hand over at the first hold, or, when the vehicle is not there (a ground plan that
        ends elsewhere), plan again on board."""
        miss = float(np.linalg.norm(self.nav["r_LVLH_m"] - self.hold_L))
        if miss > self.handover_m:
            self.phase = PHASE["NO_PLAN"]
            self.source = SOURCE["ONBOARD"]
            self._retry_s = 0.0
            self.emit("FAR_REJECT", "WARNING", f"plan flown {miss / 1e3:.1f} km off the hold: re-plan", (miss, 0.0))
            return
        self._arrived = True
        self.phase = PHASE["ARRIVED"]
        self.hold_arrival_s = t_ns / NS_PER_S
        self.emit("FAR_ARRIVED", "INFO", f"far range done: {self.dv_total:.1f} m/s, hold 0 reached",
                  (self.dv_total, 0.0))
        self._publish(t_ns)
        self.guidance.far_range_arrived(t_ns)

    def _publish(self, t_ns: int) -> None:
        if t_ns < self._pub_due_ns and self.phase == self.state["phase"]:
            return  # FAR_RANGE goes down at 1 Hz: refreshed once a second and at each phase change
        self._pub_due_ns = t_ns + NS_PER_S
        s = self.state
        s["phase"], s["source"] = self.phase, self.source
        s["burn"], s["n_burns"] = len(self.log), len(self.log) + len(self.plan)
        s["next_burn_s"] = self.plan[0]["t_s"] if self.plan else 0.0
        s["dv_left_mps"] = self._burn["left"] if self._burn else 0.0
        s["dv_total_mps"] = self.dv_total
        s["plan_dv_mps"] = (self._cache[2] if self._cache[0] is self.plan[0] else
                            sum(float(np.linalg.norm(b["dv_N"])) for b in self.plan)) if self.plan else 0.0
        s["passive_ratio"] = self.passive_ratio
        s["prop_used_kg"] = self.prop_used
        s["t_ns"] = t_ns
        s["seq"] += 1

    def summary(self) -> dict:
        """The far-range section of the run summary."""
        return {"enabled": self.enabled, "start_s": None if self.t0_ns is None else self.t0_ns / NS_PER_S,
                "burns": self.log, "dv_total_mps": self.dv_total, "dv_budget_mps": self.budget_mps,
                "engine_propellant_kg": self.prop_used, "plans_rejected": self.rejections,
                "passive_ratio": self.passive_ratio, "hold_arrival_s": self.hold_arrival_s,
                "plan_source": PLAN_SOURCES[self.source], "arrival_shift_s": self.arrival_shift_s,
                "engine_torque_unpredicted_Nm": self.d_eng.tolist()}


def _rotation(axis, angle) -> np.ndarray:
    """Rotation matrix turning vectors by ``angle`` about unit ``axis`` (active, Rodrigues)."""
    K = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + math.sin(angle) * K + (1.0 - math.cos(angle)) * K @ K


class _Slew:
    """A rate-limited slew between two attitudes (q_BN): slerp at ``rate`` [rad/s] from ``q0`` to an end attitude
    (``q1`` fixed, or the moving docking attitude given at each call)."""

    def __init__(self, q0, q1, t0_ns, rate, *, fixed_end, q_end_now=None):
        self.q0 = np.asarray(q0, float)
        self.q1 = None if q1 is None else np.asarray(q1, float)
        self.t0 = t0_ns
        self.rate = rate
        self.fixed_end = fixed_end
        self.hold_due_ns = 0  # reached a fixed end: the next refresh of the held attitude
        end = self.q1 if fixed_end else np.asarray(q_end_now, float)
        self.T = max(_angle(self.q0, end) / rate, 1e-9)

    def at(self, t_ns, q_end):
        f = min(1.0, (t_ns - self.t0) / NS_PER_S / self.T)
        return _slerp(self.q0, q_end, f), f >= 1.0


def _angle(q0, q1) -> float:
    return 2.0 * math.acos(min(1.0, abs(float(q0 @ q1))))


def _slerp(q0, q1, f):
    d = float(q0 @ q1)
    if d < 0.0:
        q1, d = -q1, -d
    if d > 0.9995:
        q = q0 + f * (q1 - q0)
    else:
        th = math.acos(d)
        q = (math.sin((1 - f) * th) * q0 + math.sin(f * th) * q1) / math.sin(th)
    return q / np.linalg.norm(q)
