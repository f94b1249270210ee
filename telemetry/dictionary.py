"""The packet dictionary: every telemetry packet, device packet, telecommand and event, declared once.

Everything else in ``telemetry`` (construct declarations, the fast codecs, numpy dtypes for bulk
decoding, the Markdown dictionary, the XTCE mission database) and the HAL's device records are
*derived* from these declarations. To add a packet, add a declaration here; nothing else. The flight
software emits events by name (``EVENTS``): their ids, severities and argument meanings live only here.

Conventions
-----------
- Field types are ``u8 u16 u32 u64 i8 i16 i32 i64 f32 f64`` (big-endian on the wire) and ``char``
  (fixed-length ASCII, ``count`` bytes, NUL-padded).
- ``count > 1`` makes a fixed-length array of that type.
- Names carry unit and frame (``r_LVLH_m``, ``omega_BN_B_rad_s``); ``unit`` repeats the unit for tools.
- Quaternions are scalar-first ``[q0, q1, q2, q3]``; ``q_BN`` maps N-frame components to B-frame ones.
- ``lo``/``hi`` bound a command argument (inclusive); ``enum`` names the states of an integer field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

SCALAR_TYPES = {
    "u8": "u1", "u16": "u2", "u32": "u4", "u64": "u8",
    "i8": "i1", "i16": "i2", "i32": "i4", "i64": "i8",
    "f32": "f4", "f64": "f8",
}

# Sizes of the vehicle's device arrays. They must match the vehicle tables
# (fsw/config/vehicle.toml, sims/scenarios/_vehicle.toml); tests/test_config_agreement.py checks it.
N_THRUSTERS = 28  # 12 x 150 N translation + 16 x 25 N attitude
N_ENGINES = 2  # orbit-control engines (docs/far-range.md)
N_FAR_BURNS = 8  # burns a ground manoeuvre plan holds at most
N_HEATER_ZONES = 5
N_HEATERS = 2 * N_HEATER_ZONES  # primary + backup per zone
N_THERMISTORS = 2 * N_HEATER_ZONES  # primary + backup sensor per zone

MODES = MappingProxyType({
    0: "STANDBY", 1: "PHASING", 2: "HOMING", 3: "CLOSING", 4: "FINAL_APPROACH",
    5: "DOCKED", 6: "HOLD", 7: "RETREAT", 8: "CAM", 9: "SAFE",
})
SEVERITIES = MappingProxyType({0: "DEBUG", 1: "INFO", 2: "WARNING", 3: "ERROR", 4: "CRITICAL"})
ACK_STATUS = MappingProxyType({1: "ACCEPTED", 2: "REJECTED", 3: "COMPLETED"})
REJECT_REASONS = MappingProxyType({
    0: "NONE", 1: "BAD_CHECKSUM", 2: "BAD_LENGTH", 3: "UNKNOWN_FUNCTION", 4: "ARG_OUT_OF_RANGE",
    5: "NOT_ARMED", 6: "ILLEGAL_IN_MODE", 7: "QUEUE_FULL", 8: "UNKNOWN_APID", 9: "EXECUTION_FAILED",
    10: "MALFORMED",
    # refused by the ground link before the dispatcher (docs/ground-link.md)
    11: "UNAUTHENTICATED", 12: "UNKNOWN_SPI", 13: "BAD_MAC", 14: "REPLAY", 15: "RATE_LIMITED",
})
NAV_SENSORS = MappingProxyType({0: "NONE", 1: "GNSS", 2: "LIDAR", 3: "CAMERA", 4: "GNSS_ABS"})
FAR_PHASES = MappingProxyType({
    0: "IDLE", 1: "COAST", 2: "SLEW", 3: "BURN", 4: "SLEW_BACK", 5: "ARRIVED", 6: "NO_PLAN",
})
PLAN_SOURCES = MappingProxyType({0: "NONE", 1: "ONBOARD", 2: "GROUND"})
GUIDANCE_PHASES = MappingProxyType({
    0: "IDLE", 1: "TRANSFER", 2: "STATION_KEEP", 3: "GO_NOGO", 4: "CLOSING", 5: "FINAL",
    6: "RETREAT", 7: "CAM", 8: "DOCKED",
})
ABORT_TRIGGERS = MappingProxyType({
    0: "NONE", 1: "CLOSING_RATE", 2: "CORRIDOR", 3: "ATTITUDE_ERROR", 4: "NAV_INVALID", 5: "COMMAND",
    6: "FDIR",
})
# EVENT.source_id of the event sources that are not scheduled tasks (a task's id is its schedule index, as
# EXEC_TASK_TIMING.task_id); the names are those of events.log.
EVENT_SOURCES = MappingProxyType({254: "modes", 255: "executive"})


@dataclass(frozen=True)
class Field:
    """One field of a packet payload or one command argument."""

    name: str
    type: str
    unit: str
    description: str
    count: int = 1
    lo: float | None = None
    hi: float | None = None
    enum: MappingProxyType | None = None

    def __post_init__(self):
        if self.type != "char" and self.type not in SCALAR_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if self.count < 1:
            raise ValueError(f"field {self.name!r}: count must be >= 1, got {self.count}")

    def numpy_type(self, byteorder: str = ">") -> tuple:
        """(name, dtype[, shape]) entry for a numpy structured dtype."""
        if self.type == "char":
            return (self.name, f"S{self.count}")
        base = np.dtype(SCALAR_TYPES[self.type]).newbyteorder(byteorder)
        return (self.name, base, (self.count,)) if self.count > 1 else (self.name, base)


@dataclass(frozen=True)
class Telemetry:
    """A telemetry packet (flight -> ground) or a device packet (device <-> flight, HIL links)."""

    name: str
    apid: int
    description: str
    fields: tuple[Field, ...]
    device: bool = False


@dataclass(frozen=True)
class Command:
    """A telecommand: APID + function code, typed and range-checked arguments."""

    name: str
    apid: int
    function_code: int
    description: str
    args: tuple[Field, ...] = field(default_factory=tuple)
    hazardous: bool = False


@dataclass(frozen=True)
class EventArg:
    """One of an event's two numeric arguments (EVENT.args[i])."""

    name: str
    unit: str = ""
    enum: MappingProxyType | None = None


@dataclass(frozen=True)
class EventDef:
    """An event: id, name, severity, who emits it, its text and what its two numeric arguments mean.

    ``severity`` is the usual severity; ``also`` lists the others the event may be emitted with (a switch to
    a backup unit is a WARNING, the switch back INFO). ``text`` is the text's pattern, ``{name}`` standing for
    a value; the EVENT packet keeps its first 48 characters.
    """

    id: int
    name: str
    severity: str
    source: str
    text: str
    args: tuple[EventArg, ...] = ()
    also: tuple[str, ...] = ()

    def __post_init__(self):
        bad = [s for s in (self.severity, *self.also) if s not in SEVERITIES.values()]
        if bad:
            raise ValueError(f"event {self.name!r}: unknown severity {bad[0]!r}")
        if len(self.args) > 2:
            raise ValueError(f"event {self.name!r}: {len(self.args)} arguments, the EVENT packet carries 2")
        if not 0 < self.id <= 0xFFFF:
            raise ValueError(f"event {self.name!r}: id {self.id} does not fit EVENT.event_id (u16, 0 is none)")

    @property
    def severities(self) -> tuple[str, ...]:
        """Every severity the event may be emitted with, the usual one first."""
        return (self.severity, *self.also)


def _index(items, key, what="packet dictionary"):
    out = {}
    for item in items:
        k = key(item)
        if k in out:
            raise ValueError(f"{what}: duplicate key {k!r} ({out[k].name} and {item.name})")
        out[k] = item
    return MappingProxyType(out)


A = EventArg
_W = ("WARNING",)
# Every event the flight software emits. Ids are grouped by emitter: the executive 1-99, then by hundreds
# (modes 100, commanding 200, navigation 300, attitude 400, guidance 500, far range 520, docking 600,
# thermal 700, FDIR 800, ground link 1300). An id, once flown, is never reused for another event.
EVENTS: tuple[EventDef, ...] = (
    EventDef(1, "TASK_FAILED", "ERROR", "executive", "{task} failed: {exception}: {message}",
             (A("task_index"), A("errors"))),
    EventDef(2, "TASK_OVERRUN", "WARNING", "executive", "{task} took {us} us, budget {budget} us",
             (A("duration", "us"), A("budget", "us"))),
    EventDef(3, "SLOTS_SKIPPED", "ERROR", "executive", "skipped {n} of {due} late slots, resumed at frame {frame}",
             (A("slots"), A("frame"))),
    EventDef(4, "CYCLE_SLIP", "WARNING", "executive", "rg {group} slip: frame {frame} started {lateness} us late",
             (A("lateness", "us"), A("frame"))),
    EventDef(5, "FRAME_OVERRUN", "WARNING", "executive", "frame {frame} ended {us} us after its boundary",
             (A("overrun", "us"), A("frame"))),
    EventDef(6, "TASK_RESTARTED", "INFO", "executive", "{task} restarted", (A("task_index"),)),
    EventDef(7, "HOOK_FAILED", "CRITICAL", "executive", "frame hook failed: {exception}: {message}"),
    EventDef(100, "MODE_CHANGED", "INFO", "modes", "mode {old} -> {new} ({requester})",
             (A("old", enum=MODES), A("new", enum=MODES))),
    EventDef(101, "MODE_REJECTED", "WARNING", "modes", "{requester}: {old}->{new} not allowed",
             (A("old", enum=MODES), A("new", enum=MODES))),
    EventDef(200, "CMD_REJECTED", "WARNING", "commanding", "{why the command was refused}",
             (A("reason", enum=REJECT_REASONS),)),
    EventDef(201, "CMD_EXECUTED", "INFO", "commanding", "command {command} completed", (A("function_code"),)),
    EventDef(202, "CMD_ARMED", "INFO", "commanding", "armed function code {code}", (A("function_code"),)),
    EventDef(300, "NAV_INIT", "INFO", "navigation", "navigation initialised from {sensor}", (A("range", "m"),)),
    EventDef(301, "NAV_VALID", "INFO", "navigation", "navigation valid"),
    EventDef(302, "NAV_INVALID", "WARNING", "navigation", "navigation invalid"),
    EventDef(303, "NAV_REJECT", "WARNING", "navigation", "measurement rejected by the gate (sensor {sensor})",
             (A("sensor", enum=NAV_SENSORS),)),
    EventDef(304, "NAV_RESET", "ERROR", "navigation", "{n} rejections in a row (sensor {sensor}): navigation reset",
             (A("sensor", enum=NAV_SENSORS),)),
    EventDef(305, "NAV_DOCKED", "INFO", "navigation", "docked: relative state held at the port geometry"),
    EventDef(400, "ATT_INIT", "INFO", "attitude", "attitude initialised from the star tracker"),
    EventDef(401, "ST_REJECT", "WARNING", "attitude", "star tracker sample rejected by the gate"),
    EventDef(402, "ATT_RESET", "ERROR", "attitude", "{n} star tracker rejections in a row: attitude reset"),
    EventDef(500, "PHASE", "INFO", "guidance", "guidance {phase} hold {hold} target {target} (or: retry, SAFE)",
             (A("hold"), A("target")), also=_W),
    EventDef(501, "GO", "INFO", "guidance", "GO at hold {hold} ({distance} m)", (A("hold"),)),
    EventDef(502, "NOGO", "WARNING", "guidance", "NO-GO at hold {hold} (code {code})", (A("hold"), A("code"))),
    EventDef(503, "CAM", "WARNING", "guidance", "CAM ({trigger}): min range after {range} m",
             (A("trigger", enum=ABORT_TRIGGERS), A("min_range", "m")), also=("CRITICAL",)),
    EventDef(504, "BURN", "INFO", "guidance", "{why}: dv {dv} m/s (WARNING: CW targeting singular)",
             (A("dv", "m/s"),), also=_W),
    EventDef(505, "RETRIES_EXHAUSTED", "ERROR", "guidance", "hold {hold}: retries exhausted, holding for the ground",
             (A("hold"), A("retries"))),
    EventDef(506, "DOCKED", "INFO", "guidance", "docked: capture confirmed"),
    EventDef(520, "FAR_PLAN", "INFO", "far_range", "{why} plan {n} burns {dv} m/s x{ratio}",
             (A("dv", "m/s"), A("passive_ratio"))),
    EventDef(521, "FAR_REJECT", "WARNING", "far_range", "{why a plan was refused or the far range paused}"),
    EventDef(522, "FAR_BURN", "INFO", "far_range", "burn {k}: {dv} m/s, {duration} s", (A("dv", "m/s"),)),
    EventDef(523, "FAR_BURN_END", "INFO", "far_range", "burn {k} done: {dv} m/s in {duration} s",
             (A("dv", "m/s"), A("duration", "s"))),
    EventDef(524, "FAR_ARRIVED", "INFO", "far_range", "far range done: {dv} m/s, hold 0 reached",
             (A("dv_total", "m/s"),)),
    EventDef(525, "FAR_GROUND", "INFO", "far_range", "ground plan of {n} burns replaces the onboard one",
             (A("burns"),)),
    EventDef(526, "FAR_THROTTLE", "INFO", "far_range",
             "burn {k}: engines at {duty} of full thrust for attitude, unpredicted engine torque {torque} N m",
             (A("duty"), A("torque", "N m"))),
    EventDef(600, "TRIGGER", "CRITICAL", "docking", "abort trigger {trigger} at {range} m",
             (A("trigger", enum=ABORT_TRIGGERS), A("range", "m"))),
    EventDef(601, "CONTACT_READY", "INFO", "docking", "contact ready at {range} m, closing {rate} m/s",
             (A("range", "m"), A("closing_rate", "m/s"))),
    EventDef(700, "LIMIT_VIOLATION", "WARNING", "thermal", "{zone} {temp} C {above|below} {limit} C",
             (A("zone"), A("temp", "degC"))),
    EventDef(701, "LIMIT_RECOVERED", "INFO", "thermal", "{zone} back in limits {temp} C",
             (A("zone"), A("temp", "degC"))),
    EventDef(702, "SHED_CHANGED", "INFO", "thermal", "heater shedding {old mask} -> {new mask}",
             (A("shed_mask"), A("power", "W")), also=_W),
    EventDef(703, "HEATER_SWITCHED", "INFO", "thermal", "zone {zone} heater unit {old} -> {new}",
             (A("zone"), A("unit")), also=_W),
    EventDef(704, "THERMISTOR_SWITCHED", "INFO", "thermal", "zone {zone} thermistor -> {backup|primary}",
             (A("zone"), A("backup")), also=_W),
    EventDef(705, "SETPOINT_CHANGED", "INFO", "thermal", "zone {zone} setpoint {old} -> {new} C",
             (A("zone"), A("setpoint", "degC"))),
    EventDef(800, "FDIR_RESPONSE", "WARNING", "fdir", "{the actionpoint's text} (severity: the actionpoint's)",
             (A("actionpoint"), A("response_kind")), also=("INFO", "ERROR", "CRITICAL")),
    EventDef(801, "FDIR_RESPONDER_FAILED", "ERROR", "fdir", "{kind} failed: {exception}: {message}",
             (A("actionpoint"), A("response_kind"))),
    EventDef(802, "FDIR_RESPONSE_REFUSED", "WARNING", "fdir", "{kind} refused: {reason}",
             (A("actionpoint"), A("response_kind"))),
    EventDef(803, "FDIR_ENABLE", "INFO", "fdir", "FDIR {actionpoint} {on|off}", (A("actionpoint"), A("enable"))),
    EventDef(1300, "CLIENT_OPENED", "INFO", "ground_link", "link: client {peer} connected", (A("client"),)),
    EventDef(1301, "CLIENT_CLOSED", "INFO", "ground_link", "link: {peer} {why}", (A("client"), A("dropped"))),
    EventDef(1302, "TC_REJECTED", "WARNING", "ground_link", "link: {n} {reason} from {peer}",
             (A("reason", enum=REJECT_REASONS), A("count"))),
    EventDef(1303, "CLIENT_REFUSED", "WARNING", "ground_link", "link: refused {peer}: {max} clients"),
    EventDef(1304, "ARSN_STORE_FAILED", "ERROR", "ground_link", "ARSN state not stored: {error}"),
)


def index_events(events) -> tuple[MappingProxyType, MappingProxyType]:
    """``(by name, by id)`` of an event table; ValueError naming the first duplicate name or id."""
    return _index(events, lambda e: e.name, "event table"), _index(events, lambda e: e.id, "event table")


EVENT_BY_NAME, EVENT_BY_ID = index_events(EVENTS)
#: EVENT.event_id -> event name, the enumeration of the EVENT packet's event_id field
EVENT_NAMES = MappingProxyType({e.id: e.name for e in EVENTS})


def event_id(name: str) -> int:
    """Id of an event of the table by its name; KeyError naming the unknown event."""
    try:
        return EVENT_BY_NAME[name].id
    except KeyError:
        raise KeyError(f"event {name!r} is not in the event table (telemetry/dictionary.py EVENTS)") from None


def event_name(event_id: int) -> str:
    """Name of an EVENT packet's ``event_id`` in the table, ``"event <id>"`` for an id it does not know."""
    e = EVENT_BY_ID.get(int(event_id))
    return e.name if e is not None else f"event {int(event_id)}"


F = Field
CMD_APID = 0x180

TELEMETRY: tuple[Telemetry, ...] = (
    Telemetry("EXEC_STATUS", 0x100, "Cyclic executive status, one per major frame", (
        F("frame_count", "u32", "", "minor frames run since start"),
        F("cycle_slips", "u32", "", "frames that started after their deadline"),
        F("skipped_slots", "u32", "", "slots skipped by the catch-up-then-skip policy"),
        F("lateness_max_us", "f32", "us", "largest frame-start lateness so far"),
        F("lateness_p99_us", "f32", "us", "99th percentile frame-start lateness"),
        F("cpu_load_pct", "f32", "%", "average task CPU time as a fraction of the minor frame"),
        F("tasks_failed", "u32", "", "bit i set: task i is marked failed"),
        F("overruns_recent", "u16", "", "task calls over budget since the previous EXEC_STATUS"),
    )),
    Telemetry("EXEC_TASK_TIMING", 0x101, "Execution-time statistics of one scheduled task", (
        F("task_id", "u8", "", "index of the task in the schedule table"),
        F("task_name", "char", "", "task name", count=16),
        F("calls", "u32", "", "calls so far"),
        F("budget_us", "f32", "us", "declared CPU budget per call"),
        F("p50_us", "f32", "us", "median execution time"),
        F("p99_us", "f32", "us", "99th percentile execution time"),
        F("max_us", "f32", "us", "largest execution time"),
        F("overruns", "u32", "", "calls over budget"),
        F("errors", "u32", "", "calls that raised"),
    )),
    Telemetry("HK_STATUS", 0x102, "Mode and commanding housekeeping", (
        F("mode", "u8", "", "current vehicle mode", enum=MODES),
        F("prev_mode", "u8", "", "mode before the last transition", enum=MODES),
        F("cmd_accepted", "u16", "", "commands accepted"),
        F("cmd_rejected", "u16", "", "commands rejected"),
        F("cmd_completed", "u16", "", "commands completed"),
        F("tt_queue_depth", "u8", "", "time-tagged commands waiting"),
        F("armed_fc", "u8", "", "function code armed for a hazardous command, 255 if none"),
        F("event_count", "u32", "", "events issued"),
        F("events_throttled", "u32", "", "events suppressed by throttling"),
        F("apps_failed", "u32", "", "bit i set: task i is marked failed"),
    )),
    Telemetry("EVENT", 0x103, "An event message", (
        F("event_id", "u16", "", "event identifier", enum=EVENT_NAMES),
        F("severity", "u8", "", "severity", enum=SEVERITIES),
        F("source_id", "u8", "", "source: its schedule index (EXEC_TASK_TIMING.task_id) for a task, "
          "254 the mode manager (modes), 255 the executive"),
        F("args", "f64", "", "numeric arguments of the event", count=2),
        F("text", "char", "", "event text, ASCII", count=48),
    )),
    Telemetry("CMD_ACK", 0x104, "Acknowledgement of one telecommand", (
        F("cmd_apid", "u16", "", "APID of the acknowledged command"),
        F("function_code", "u8", "", "function code of the acknowledged command"),
        F("cmd_seq", "u16", "", "sequence count of the acknowledged command"),
        F("status", "u8", "", "acknowledgement status", enum=ACK_STATUS),
        F("reason", "u8", "", "rejection reason", enum=REJECT_REASONS),
    )),
    Telemetry("NAV_STATE", 0x110, "Relative navigation state (chaser w.r.t. station, station LVLH)", (
        F("r_LVLH_m", "f64", "m", "estimated relative position, LVLH", count=3),
        F("v_LVLH_mps", "f64", "m/s", "estimated relative velocity, LVLH", count=3),
        F("sigma_r_m", "f32", "m", "1-sigma position uncertainty per axis", count=3),
        F("sigma_v_mps", "f32", "m/s", "1-sigma velocity uncertainty per axis", count=3),
        F("valid", "u8", "", "1 when the navigation solution is valid"),
        F("sensor", "u8", "", "sensor used by the last update", enum=NAV_SENSORS),
        F("accepted", "u32", "", "measurements accepted"),
        F("rejected", "u32", "", "measurements rejected by innovation gating"),
        F("port_tilt_rad", "f32", "rad", "station port's attitude w.r.t. LVLH as the docking camera sees it: small "
          "rotation in docking-attitude axes (roll, pitch, yaw)", count=3),
        F("port_tilt_valid", "u8", "", "1 while port_tilt_rad is fresh (camera attitude inside its range)"),
    )),
    Telemetry("ATT_STATE", 0x111, "Attitude estimate and control errors", (
        F("q_BN", "f64", "", "estimated attitude quaternion, scalar first", count=4),
        F("omega_BN_B_rad_s", "f32", "rad/s", "estimated body rate, B frame", count=3),
        F("bias_B_rad_s", "f32", "rad/s", "estimated gyro bias, B frame", count=3),
        F("att_err_rad", "f32", "rad", "attitude error (2 x vector part of q_BR)", count=3),
        F("rate_err_rad_s", "f32", "rad/s", "rate error omega_BR_B", count=3),
        F("valid", "u8", "", "1 when the attitude estimate is valid"),
    )),
    Telemetry("GUIDANCE_STATE", 0x112, "Approach guidance state", (
        F("phase", "u8", "", "guidance phase", enum=GUIDANCE_PHASES),
        F("hold_index", "u8", "", "index of the current/next hold point"),
        F("target_r_LVLH_m", "f32", "m", "guidance target position, LVLH", count=3),
        F("target_v_LVLH_mps", "f32", "m/s", "guidance target velocity, LVLH", count=3),
        F("dv_total_mps", "f32", "m/s", "delta-v commanded so far"),
        F("go", "u8", "", "1 when the last go/no-go check passed"),
        F("retries", "u8", "", "retreat-and-retry count at the current hold"),
    )),
    Telemetry("DOCKING_MONITOR", 0x113, "Final-approach monitor (corridor, closing rate, readiness)", (
        F("range_m", "f32", "m", "range to the docking port"),
        F("range_rate_mps", "f32", "m/s", "range rate (negative when closing)"),
        F("corridor_angle_deg", "f32", "deg", "angle of the line of sight off the docking axis"),
        F("lateral_m", "f32", "m", "lateral offset from the docking axis"),
        F("in_kos", "u8", "", "1 inside the keep-out sphere"),
        F("in_ellipsoid", "u8", "", "1 inside the approach ellipsoid (where navigation loss aborts)"),
        F("in_corridor", "u8", "", "1 inside the approach corridor"),
        F("abort_trigger", "u8", "", "autonomous abort trigger, if any", enum=ABORT_TRIGGERS),
        F("contact_ready", "u8", "", "1 when the contact conditions are met"),
    )),
    Telemetry("PROPULSION", 0x114, "Propulsion usage", (
        F("prop_used_kg", "f32", "kg", "propellant used (flight estimate from on-times)"),
        F("trans_on_time_s", "f32", "s", "cumulative translation-thruster on-time"),
        F("att_on_time_s", "f32", "s", "cumulative attitude-thruster on-time"),
        F("pulses", "u32", "", "thruster pulses commanded"),
    )),
    Telemetry("FAR_RANGE", 0x115, "Far-range guidance: manoeuvre plan and burn execution", (
        F("phase", "u8", "", "far-range phase", enum=FAR_PHASES),
        F("source", "u8", "", "who made the plan being flown", enum=PLAN_SOURCES),
        F("burn", "u8", "", "index of the next (or current) burn of the plan"),
        F("n_burns", "u8", "", "burns in the plan"),
        F("next_burn_s", "f32", "s", "mission time of the next burn's centre (0: none)"),
        F("dv_left_mps", "f32", "m/s", "delta-v still to deliver in the current burn"),
        F("dv_total_mps", "f32", "m/s", "orbit-control engine delta-v delivered so far (flight estimate)"),
        F("plan_dv_mps", "f32", "m/s", "delta-v of the burns still planned"),
        F("passive_ratio", "f32", "", "least approach-ellipsoid ratio of the plan's passive-abort trajectories"),
        F("prop_used_kg", "f32", "kg", "engine propellant used (flight estimate)"),
    )),
    Telemetry("THERMAL_ZONES", 0x120, "Thermal control zones and heater power", (
        F("temp_C", "f32", "degC", "zone temperature (selected thermistor)", count=N_HEATER_ZONES),
        F("setpoint_C", "f32", "degC", "zone setpoint", count=N_HEATER_ZONES),
        F("heater_on", "u8", "", "1 when the zone heater is commanded on", count=N_HEATER_ZONES),
        F("unit", "u8", "", "active heater unit, 0 primary 1 backup", count=N_HEATER_ZONES),
        F("duty", "f32", "", "heater duty cycle 0..1", count=N_HEATER_ZONES),
        F("power_W", "f32", "W", "total heater power commanded"),
        F("power_limit_W", "f32", "W", "heater power budget"),
        F("shed_mask", "u8", "", "bit i set: zone i shed for lack of power"),
        F("dTdt_C_s", "f32", "degC/s", "filtered zone temperature rate", count=N_HEATER_ZONES),
    )),
    Telemetry("LINK_STATS", 0x130, "Serial link statistics (HIL)", (
        F("link_id", "u8", "", "link index in the bench file"),
        F("bytes_rx", "u32", "", "bytes received"),
        F("bytes_tx", "u32", "", "bytes sent"),
        F("frames_rx", "u32", "", "valid frames received"),
        F("frames_tx", "u32", "", "frames sent"),
        F("crc_errors", "u32", "", "frames rejected for a bad CRC"),
        F("gaps", "u32", "", "sequence-count gaps (lost packets)"),
        F("resyncs", "u32", "", "times the deframer resynchronised"),
        F("reconnects", "u32", "", "times the port was reopened"),
        F("stale_mask", "u32", "", "bit i set: device i is stale"),
    )),
    Telemetry("GROUND_LINK", 0x131, "Ground link statistics (qz sim/hil --link), 1 Hz while a link is served", (
        F("clients", "u8", "", "clients connected now"),
        F("clients_total", "u32", "", "connections accepted since start"),
        F("clients_refused", "u32", "", "connections refused (client limit, plain commands off loopback)"),
        F("frames_in", "u32", "", "uplink frames received with a good CRC (datagrams: well-formed)"),
        F("frames_out", "u32", "", "downlink frames or datagrams written, all clients"),
        F("bytes_in", "u32", "", "uplink bytes read, wraps at 2**32"),
        F("bytes_out", "u32", "", "downlink bytes written, wraps at 2**32"),
        F("crc_errors", "u32", "", "uplink frames refused for a bad CRC"),
        F("bytes_skipped", "u32", "", "uplink bytes given up on (garbage, bad headers, truncated frames)"),
        F("drops", "u32", "", "downlink packets dropped from full client queues (oldest first), all clients"),
        F("tc_accepted", "u32", "", "telecommands passed to the dispatcher"),
        F("rej_unauthenticated", "u32", "", "plain telecommands refused (keys configured, or not on loopback)"),
        F("rej_unknown_spi", "u32", "", "telecommands refused: security parameter index not in the key file"),
        F("rej_bad_mac", "u32", "", "telecommands refused: MAC does not verify"),
        F("rej_replay", "u32", "", "telecommands refused: ARSN not above the last accepted for the SPI"),
        F("rej_rate_limited", "u32", "", "telecommands refused unchecked: over the per-cycle limit of a client"),
        F("rej_malformed", "u32", "", "datagrams that are no telecommand frame (too short, bad length)"),
    )),
    # Device packets: sensors -> flight software, flight software -> actuators (HIL links).
    Telemetry("DEV_GYRO", 0x200, "Rate-integrating gyro sample (100 Hz)", (
        F("theta_B_rad", "f64", "rad", "integrated angle since power-on, B frame (the unit's angle counter: "
          "the difference of two samples is the angle turned between them)", count=3),
        F("omega_BN_B_rad_s", "f64", "rad/s", "mean body rate over the last sample interval, B frame", count=3),
        F("valid", "u8", "", "1 when the sample is valid"),
    ), device=True),
    Telemetry("DEV_STAR_TRACKER", 0x201, "Star tracker attitude (5 Hz)", (
        F("q_BN", "f64", "", "measured attitude quaternion, scalar first", count=4),
        F("valid", "u8", "", "1 when the sample is valid"),
    ), device=True),
    Telemetry("DEV_GNSS_REL", 0x202, "Relative GNSS solution (1 Hz)", (
        F("r_LVLH_m", "f64", "m", "measured relative position, station LVLH", count=3),
        F("v_LVLH_mps", "f64", "m/s", "measured relative velocity, station LVLH", count=3),
        F("valid", "u8", "", "1 when the sample is valid"),
    ), device=True),
    Telemetry("DEV_GNSS_ABS", 0x207, "Absolute GNSS navigation solution of the chaser (1 Hz)", (
        F("r_N_m", "f64", "m", "measured position of the chaser, inertial frame N", count=3),
        F("v_N_mps", "f64", "m/s", "measured velocity of the chaser, inertial frame N", count=3),
        F("valid", "u8", "", "1 when the sample is valid"),
    ), device=True),
    Telemetry("DEV_LIDAR", 0x203, "Laser rendezvous radar (3.125 Hz)", (
        F("range_m", "f64", "m", "range from the sensor to the station's reflector"),
        F("az_rad", "f64", "rad", "azimuth of the line of sight, B frame: atan2(y_B, x_B)"),
        F("el_rad", "f64", "rad", "elevation of the line of sight, B frame: asin(z_B / range)"),
        F("valid", "u8", "", "1 when the sample is valid"),
    ), device=True),
    Telemetry("DEV_CAMERA", 0x204, "Docking camera relative pose (10 Hz)", (
        F("r_B_m", "f64", "m", "station docking port relative to chaser docking port, B frame", count=3),
        F("att_rad", "f64", "rad", "relative attitude target-to-chaser, small angles (roll, pitch, yaw)",
          count=3),
        F("valid", "u8", "", "1 when the sample is valid (r_B_m; att_rad when att_valid)"),
        F("att_valid", "u8", "", "1 when att_rad is valid: the camera resolves relative attitude only at short "
          "range (docs/sensors.md section 2); 0 with valid = 1: position only"),
    ), device=True),
    Telemetry("DEV_THERMISTORS", 0x205, "Thermistor temperatures (1 Hz)", (
        F("temp_C", "f32", "degC", "zone z primary at 2z, backup at 2z+1", count=N_THERMISTORS),
        F("valid_mask", "u16", "", "bit i set: thermistor i valid"),
    ), device=True),
    Telemetry("DEV_DOCK_MECH", 0x206, "Docking mechanism status (10 Hz)", (
        F("contact", "u8", "", "1 when the docking rings touch"),
        F("captured", "u8", "", "1 when the capture latches closed"),
    ), device=True),
    Telemetry("ACT_THRUSTERS", 0x210, "Thruster command: on-times from the command time (one control period)", (
        F("on_time_s", "f32", "s", "on-time of each thruster from the command time; the valve drive "
          "fires a pulse longer than a minor frame over consecutive frames", count=N_THRUSTERS),
    ), device=True),
    Telemetry("ACT_ENGINES", 0x213, "Orbit-control engine command: on-times from the command time", (
        F("on_time_s", "f32", "s", "on-time of each orbit-control engine from the command time", count=N_ENGINES),
    ), device=True),
    Telemetry("ACT_HEATERS", 0x211, "Heater duty cycles", (
        F("duty", "f32", "", "duty cycle 0..1, zone z primary at 2z, backup at 2z+1", count=N_HEATERS),
    ), device=True),
    Telemetry("BENCH_TICK", 0x212, "Lockstep tick: the bench emulator advances one minor frame", (
        F("frame", "u32", "", "minor frame number being started"),
    ), device=True),
)

COMMANDS: tuple[Command, ...] = (
    Command("NOOP", CMD_APID, 0, "Do nothing; increments the accepted counter"),
    Command("RESET_COUNTERS", CMD_APID, 1, "Reset command and event counters"),
    Command("SET_MODE", CMD_APID, 2, "Request a mode transition (checked against the mode table)", (
        F("mode", "u8", "", "requested mode", lo=0, hi=9, enum=MODES),
    )),
    Command("APPROACH_HOLD", CMD_APID, 3, "Hold at the current position"),
    Command("APPROACH_RESUME", CMD_APID, 4, "Resume the approach after a hold"),
    Command("APPROACH_RETREAT", CMD_APID, 5, "Retreat to the previous hold point"),
    Command("ARM", CMD_APID, 6, "Arm a hazardous command; it must follow within the arm window", (
        F("target_fc", "u8", "", "function code to arm", lo=0, hi=127),
    )),
    Command("ABORT", CMD_APID, 7, "Collision-avoidance manoeuvre (hazardous: ARM first)", hazardous=True),
    Command("SET_HEATER_SETPOINT", CMD_APID, 8, "Change a thermal zone's setpoint", (
        F("zone", "u8", "", "heater zone index", lo=0, hi=N_HEATER_ZONES - 1),
        F("setpoint_C", "f32", "degC", "new setpoint", lo=-20.0, hi=40.0),
    )),
    Command("SELECT_HEATER", CMD_APID, 9, "Select the primary or backup heater of a zone", (
        F("zone", "u8", "", "heater zone index", lo=0, hi=N_HEATER_ZONES - 1),
        F("unit", "u8", "", "0 primary, 1 backup", lo=0, hi=1),
    )),
    Command("SET_TLM_DIVISOR", CMD_APID, 10, "Set a telemetry packet's rate divisor (major frames)", (
        F("apid", "u16", "", "APID of the telemetry packet", lo=0, hi=2047),
        F("divisor", "u16", "", "send every N major frames, 0 disables", lo=0, hi=3600),
    )),
    Command("TIME_TAG", CMD_APID, 11, "Queue the enclosed command packet until a mission time", (
        F("exec_time_s", "f64", "s", "mission time at which to execute", lo=0.0, hi=1.0e7),
        F("packet_len", "u8", "B", "length of the enclosed command packet", lo=7, hi=64),
        F("packet", "u8", "", "enclosed command packet, zero padded", count=64),
    )),
    Command("FDIR_ENABLE", CMD_APID, 12, "Enable or disable one FDIR actionpoint", (
        F("actionpoint", "u8", "", "actionpoint index", lo=0, hi=254),
        F("enable", "u8", "", "1 enable, 0 disable", lo=0, hi=1),
    )),
    Command("CLEAR_TT_QUEUE", CMD_APID, 13, "Drop every queued time-tagged command"),
    Command("FAR_BURN", CMD_APID, 14, "One burn of a ground manoeuvre plan; the plan replaces the onboard one "
            "once all its burns are received and it passes the passive-safety check", (
        F("slot", "u8", "", "index of this burn in the plan", lo=0, hi=N_FAR_BURNS - 1),
        F("count", "u8", "", "burns in the plan", lo=1, hi=N_FAR_BURNS),
        F("exec_time_s", "f64", "s", "mission time of the burn's centre", lo=0.0, hi=1.0e7),
        F("dv_LVLH_mps", "f64", "m/s", "impulse, station LVLH at the burn time", count=3, lo=-200.0, hi=200.0),
    )),
    Command("FAR_PLAN_ONBOARD", CMD_APID, 15, "Drop a ground manoeuvre plan: the onboard planner plans again"),
)


TM_BY_NAME = _index(TELEMETRY, lambda p: p.name)
TM_BY_APID = _index(TELEMETRY, lambda p: p.apid)
CMD_BY_NAME = _index(COMMANDS, lambda c: c.name)
CMD_BY_CODE = _index(COMMANDS, lambda c: (c.apid, c.function_code))
if set(TM_BY_APID) & {c.apid for c in COMMANDS}:
    raise ValueError("packet dictionary: a command APID is also a telemetry APID")


def payload_dtype(name: str) -> np.dtype:
    """Big-endian numpy dtype of a telemetry packet's payload (after the secondary header)."""
    return np.dtype([f.numpy_type(">") for f in TM_BY_NAME[name].fields])


def record_dtype(name: str) -> np.dtype:
    """Native-endian record of a telemetry/device packet for the software bus and the HAL.

    ``t_ns`` [ns] is the sample time (the packet's CUC time), ``seq`` counts samples written.
    """
    fields = [("t_ns", "<i8"), ("seq", "<u4")] + [f.numpy_type("=") for f in TM_BY_NAME[name].fields]
    return np.dtype(fields)
