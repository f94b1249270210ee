"""The ground's picture of one flight, built only from the packets its link delivers.

:class:`GroundState` decodes each telemetry packet (``telemetry.codec``), keeps the latest of each
packet (per task for ``EXEC_TASK_TIMING``, per link for ``LINK_STATS``), a history of the last minutes
of mission time for the plots, the event log with event names and sources, and the overview's derived
values (range against the speed profile, lateral offset against the corridor ...), each with its
limit state (:mod:`ground.console.limits`). Every update becomes one JSON-ready message for the page.

:func:`schema` describes the packets and commands for the page, generated from the packet dictionary:
the page builds its packet pages, plot channels and command panel from it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ground.console import limits as lim
from ground.console.config import FlightConfig
from telemetry.codec import PacketError, decode_tm, peek_apid
from telemetry.dictionary import (
    ACK_STATUS,
    COMMANDS,
    EVENT_NAMES,
    MODES,
    REJECT_REASONS,
    SEVERITIES,
    TELEMETRY,
    Field,
    event_name,
)
from telemetry.units import NS_PER_S

DOWNLINK = tuple(p for p in TELEMETRY if not p.device)   # what a flight sends to the ground
BY_APID = {p.apid: p for p in DOWNLINK}
MUX = {"EXEC_TASK_TIMING": "task_name", "LINK_STATS": "link_id"}  # one packet kind, several sources
RESTART_BACKSTEP_S = 2.0   # [s] mission time going back more than this: a new run (the flight restarted)
EVENTS_KEPT = 2000
NOT_A_COMMAND_FROM_THE_PANEL = {"TIME_TAG": "wraps another command: use qz cmd --at T"}


def not_from_panel(cmd) -> str | None:
    """Why a command is not offered by the panel (an array argument has no text form), else None."""
    if cmd.name in NOT_A_COMMAND_FROM_THE_PANEL:
        return NOT_A_COMMAND_FROM_THE_PANEL[cmd.name]
    arrays = [f.name for f in cmd.args if f.count > 1]
    return f"array argument {arrays[0]}: use qz cmd --raw" if arrays else None


def _slots(field: Field) -> int:
    return 1 if field.type == "char" else field.count


def _jsonable(value):
    """A value for JSON: text for char fields, a string for a non-finite float (JSON has no NaN)."""
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("ascii", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def field_values(fields, flat) -> dict:
    """``{field: value}`` (a list for an array field) of a decoded packet's flat value tuple."""
    out, i = {}, 0
    for f in fields:
        n = _slots(f)
        if f.type == "char" or n == 1:
            out[f.name] = _jsonable(flat[i])
        else:
            out[f.name] = [_jsonable(x) for x in flat[i:i + n]]
        i += n
    return out


def _num(x) -> float:
    return x if isinstance(x, int | float) else float("nan")


def _field_schema(f: Field) -> dict:
    return {"name": f.name, "type": f.type, "unit": f.unit, "description": f.description, "count": f.count,
            "lo": f.lo, "hi": f.hi, "integer": f.type != "char" and not f.type.startswith("f"),
            "enum": {str(k): v for k, v in f.enum.items()} if f.enum else None}


def schema(cfg: FlightConfig, link_url: str, history_s: float, authenticated: bool) -> dict:
    """What the page is generated from: every downlinked packet and every command of the dictionary."""
    return {
        "link": link_url,
        "authenticated_uplink": authenticated,
        "history_s": history_s,
        "packets": [{"name": p.name, "apid": p.apid, "description": p.description, "mux": MUX.get(p.name),
                     "fields": [_field_schema(f) for f in p.fields]} for p in DOWNLINK],
        "commands": [{"name": c.name, "function_code": c.function_code, "description": c.description,
                      "hazardous": c.hazardous, "args": [_field_schema(f) for f in c.args],
                      "not_from_panel": not_from_panel(c)} for c in COMMANDS],
        "severities": dict(SEVERITIES),
        "sources": {str(k): v for k, v in cfg.source_names().items()},
        "event_names": {str(k): v for k, v in EVENT_NAMES.items()},
        "modes": dict(MODES),
        "zones": [z.name for z in cfg.zones],
        "approach": {"profile_range_m": cfg.profile_range_m, "profile_speed_mps": cfg.profile_speed_mps,
                     "closing_rate_factor": cfg.closing_rate_factor,
                     "closing_rate_margin_mps": cfg.closing_rate_margin_mps},
        "config_folder": str(cfg.folder),
    }


@dataclass
class Received:
    """One decoded packet: its key (packet name, or name[source] for a multiplexed packet)."""

    key: str
    name: str
    seq: int
    t_s: float
    values: dict


class GroundState:
    """Latest values, histories, events and the overview of the flight behind one link.

    Parameters
    ----------
    cfg : FlightConfig
    history_s : float
        [s] mission time of history kept per packet for the plots.
    """

    def __init__(self, cfg: FlightConfig, history_s: float = 1800.0):
        self.cfg = cfg
        self.limits = lim.Limits(cfg)
        self.history_s = float(history_s)
        self.latest: dict[str, dict] = {}
        self.history: dict[str, deque] = {}
        self.events: deque = deque(maxlen=EVENTS_KEPT)
        self.overview: dict[str, dict] = {}
        self.task_names: dict[int, str] = dict(enumerate(cfg.task_names))
        self.mode: str | None = None
        self.last_t_s: float | None = None
        self.packets = 0
        self.undecodable = 0
        self.restarts = 0
        self.ack_listeners = []   # called with each CMD_ACK's values

    # -- decoding

    def decode(self, packet: bytes) -> Received | None:
        p = BY_APID.get(peek_apid(packet)) if len(packet) >= 6 else None
        if p is None:
            self.undecodable += 1
            return None
        try:
            name, seq, t_ns, flat = decode_tm(packet)
        except PacketError:
            self.undecodable += 1
            return None
        values = field_values(p.fields, flat)
        key = name if name not in MUX else f"{name}[{values[MUX[name]]}]"
        return Received(key, name, seq, t_ns / NS_PER_S, values)

    def ingest(self, packet: bytes, rx_ms: float) -> list[dict]:
        """Messages for the page caused by one packet (none for an undecodable one)."""
        r = self.decode(packet)
        if r is None:
            return []
        out = []
        if self.last_t_s is not None and r.t_s < self.last_t_s - RESTART_BACKSTEP_S:
            why = f"mission time went back from {self.last_t_s:.1f} s to {r.t_s:.1f} s: a new run"
            self.reset()
            self.restarts += 1
            out.append({"k": "reset", "why": why})
        self.last_t_s = r.t_s if self.last_t_s is None else max(self.last_t_s, r.t_s)
        self.packets += 1
        if r.name == "HK_STATUS":
            self.mode = MODES.get(r.values["mode"])
        elif r.name == "EXEC_TASK_TIMING":
            self.task_names[r.values["task_id"]] = r.values["task_name"]
        limits = self.limits.for_packet(r.name, r.values, self.mode)
        msg = {"k": "tm", "key": r.key, "n": r.name, "t": r.t_s, "s": r.seq, "rx": rx_ms, "v": r.values,
               "lim": _limit_states(limits, r.values)}
        section = self._overview(r, limits)
        if section is not None:
            msg["ov"] = section
            self.overview[section["sec"]] = section
        self.latest[r.key] = msg
        hist = self.history.get(r.key)
        if hist is None:
            hist = self.history[r.key] = deque()
        hist.append((r.t_s, r.values))
        while hist and hist[0][0] < r.t_s - self.history_s:
            hist.popleft()
        if r.name == "EVENT":
            self.events.append(self._event(r))
        elif r.name == "CMD_ACK":
            for listener in self.ack_listeners:
                listener(r.values)
        out.append(msg)
        return out

    def reset(self) -> None:
        """Forget the previous run (the flight restarted): histories, latest values, events, overview."""
        self.latest.clear()
        self.history.clear()
        self.events.clear()
        self.overview.clear()
        self.mode = None
        self.last_t_s = None
        self.task_names = dict(enumerate(self.cfg.task_names))

    def _event(self, r: Received) -> dict:
        v = r.values
        return {"t": r.t_s, "id": v["event_id"], "name": event_name(v["event_id"]),
                "sev": SEVERITIES.get(v["severity"], str(v["severity"])),
                "src": self.source_name(v["source_id"]), "text": v["text"], "args": v["args"]}

    def source_name(self, source_id: int) -> str:
        return self.task_names.get(source_id) or self.cfg.source_names().get(source_id) or f"source {source_id}"

    def history_of(self, key: str, since_s: float | None = None) -> dict:
        """``{"t": [...], "v": {field: [...]}}`` of the numeric fields of ``key`` (array fields as lists)."""
        hist = self.history.get(key, ())
        rows = [(t, v) for t, v in hist if since_s is None or t >= since_s]
        fields = {}
        if rows:
            for name, value in rows[0][1].items():
                if not isinstance(value, str):
                    fields[name] = [v[name] for _, v in rows]
        return {"key": key, "t": [t for t, _ in rows], "v": fields}

    def snapshot(self) -> dict:
        return {"k": "snapshot", "latest": list(self.latest.values()), "events": list(self.events),
                "overview": self.overview, "sources": {str(k): v for k, v in self.task_names.items()}}

    # -- overview: the derived values of one packet, with their limit states

    def _overview(self, r: Received, limits: dict) -> dict | None:
        v, cfg = r.values, self.cfg
        if r.name == "HK_STATUS":
            return {"sec": "mode", "t": r.t_s, "mode": MODES.get(v["mode"], str(v["mode"])),
                    "prev_mode": MODES.get(v["prev_mode"], str(v["prev_mode"])),
                    "armed_fc": None if v["armed_fc"] == 255 else v["armed_fc"],
                    "cmd_accepted": v["cmd_accepted"], "cmd_rejected": v["cmd_rejected"],
                    "cmd_completed": v["cmd_completed"], "tt_queue_depth": v["tt_queue_depth"],
                    "apps_failed": v["apps_failed"], "apps_failed_state": limits["apps_failed"].state(v["apps_failed"])}
        if r.name == "GUIDANCE_STATE":
            i = v["hold_index"]
            holds = cfg.hold_distances_m
            return {"sec": "guidance", "t": r.t_s, "phase": _enum_name(r.name, "phase", v["phase"]), "hold_index": i,
                    "hold_m": holds[i] if 0 <= i < len(holds) else None, "go": v["go"], "retries": v["retries"],
                    "dv_total_mps": v["dv_total_mps"]}
        if r.name == "DOCKING_MONITOR":
            d = lim.axial_m(_num(v["range_m"]), _num(v["corridor_angle_deg"]))
            prof = lim.profile_speed(cfg, d)
            closing = -_num(v["range_rate_mps"])
            rr = limits.get("range_rate_mps")
            lat = limits["lateral_m"]
            return {"sec": "approach", "t": r.t_s, "range_m": v["range_m"], "axial_m": d, "closing_mps": closing,
                    "profile_mps": prof, "abort_mps": lim.closing_abort_mps(cfg, prof),
                    "closing_monitored": rr is not None,
                    "closing_state": rr.state(v["range_rate_mps"]) if rr is not None else lim.OK,
                    "lateral_m": v["lateral_m"], "corridor_m": lat.red_hi, "lateral_state": lat.state(v["lateral_m"]),
                    "corridor_angle_deg": v["corridor_angle_deg"], "half_angle_deg": cfg.corridor_half_angle_deg,
                    "in_kos": v["in_kos"], "in_corridor": v["in_corridor"], "in_ellipsoid": v["in_ellipsoid"],
                    "abort_trigger": _enum_name(r.name, "abort_trigger", v["abort_trigger"]),
                    "contact_ready": v["contact_ready"], "kos_radius_m": cfg.kos_radius_m}
        if r.name == "ATT_STATE":
            err = [_num(x) for x in v["att_err_rad"]]
            mag = math.degrees(math.sqrt(sum(x * x for x in err)))
            limit = cfg.attitude_error_limit_deg
            return {"sec": "attitude", "t": r.t_s, "err_deg": mag, "axes_deg": [math.degrees(x) for x in err],
                    "limit_deg": limit, "state": lim.upper(limit).state(mag), "valid": v["valid"],
                    "rate_err_deg_s": [math.degrees(_num(x)) for x in v["rate_err_rad_s"]]}
        if r.name == "PROPULSION":
            used = _num(v["prop_used_kg"])
            return {"sec": "propellant", "t": r.t_s, "used_kg": used, "load_kg": cfg.propellant_kg,
                    "left_kg": cfg.propellant_kg - used, "state": limits["prop_used_kg"].state(used),
                    "pulses": v["pulses"]}
        if r.name == "THERMAL_ZONES":
            zl = limits["temp_C"]
            zones = []
            for z, limit in enumerate(zl):
                zones.append({"name": cfg.zones[z].name, "temp_C": v["temp_C"][z], "setpoint_C": v["setpoint_C"][z],
                              "lo_C": limit.red_lo, "hi_C": limit.red_hi, "limits": limit.as_list(),
                              "state": limit.state(_num(v["temp_C"][z])), "heater_on": v["heater_on"][z],
                              "unit": "backup" if v["unit"][z] else "primary", "duty": v["duty"][z]})
            return {"sec": "thermal", "t": r.t_s, "zones": zones, "power_W": v["power_W"],
                    "power_limit_W": v["power_limit_W"], "power_state": limits["power_W"].state(_num(v["power_W"])),
                    "shed_mask": v["shed_mask"]}
        if r.name == "EXEC_STATUS":
            return {"sec": "exec", "t": r.t_s, **{k: v[k] for k in (
                "cycle_slips", "skipped_slots", "overruns_recent", "cpu_load_pct", "lateness_p99_us",
                "lateness_max_us", "tasks_failed", "frame_count")},
                "cpu_limit_pct": 100.0 * cfg.cpu_fraction,
                "states": {k: limits[k].state(_num(v[k])) for k in (
                    "cycle_slips", "skipped_slots", "overruns_recent", "cpu_load_pct", "lateness_p99_us",
                    "lateness_max_us", "tasks_failed")}}
        if r.name == "EXEC_TASK_TIMING":
            tasks = self.overview.get("tasks", {"sec": "tasks", "rows": {}})["rows"]
            tasks[str(v["task_id"])] = {"name": v["task_name"], "budget_us": v["budget_us"], "p50_us": v["p50_us"],
                                        "p99_us": v["p99_us"], "max_us": v["max_us"], "calls": v["calls"],
                                        "overruns": v["overruns"], "errors": v["errors"],
                                        "p99_state": limits["p99_us"].state(_num(v["p99_us"])),
                                        "overruns_state": limits["overruns"].state(v["overruns"]),
                                        "errors_state": limits["errors"].state(v["errors"])}
            return {"sec": "tasks", "t": r.t_s, "rows": tasks}
        if r.name == "GROUND_LINK":
            states = {k: limits[k].state(v[k]) for k in limits}
            return {"sec": "ground_link", "t": r.t_s, "v": v, "states": states}
        if r.name == "NAV_STATE":
            sig = max(_num(x) for x in v["sigma_r_m"])
            return {"sec": "nav", "t": r.t_s, "valid": v["valid"], "sensor": _enum_name(r.name, "sensor", v["sensor"]),
                    "sigma_r_m": sig, "sigma_state": limits["sigma_r_m"].state(sig)}
        return None


_FIELDS = {p.name: {f.name: f for f in p.fields} for p in DOWNLINK}


def _enum_name(packet: str, field: str, value) -> str:
    enum = _FIELDS[packet][field].enum
    return enum.get(value, str(value)) if enum else str(value)


def _limit_states(limits: dict, values: dict) -> dict:
    """``{field: [state, [yellow_lo, yellow_hi, red_lo, red_hi]]}``, per element for an array field."""
    out = {}
    for name, limit in limits.items():
        value = values[name]
        if isinstance(value, list):
            per = limit if isinstance(limit, list) else [limit] * len(value)
            out[name] = [[lm.state(_num(x)), lm.as_list()] for lm, x in zip(per, value, strict=False)]
        else:
            out[name] = [limit.state(_num(value)), limit.as_list()]
    return out


def ack_text(values: dict) -> tuple[str, str | None]:
    """(status name, rejection reason or None) of a CMD_ACK's values."""
    status = ACK_STATUS.get(values["status"], str(values["status"]))
    reason = REJECT_REASONS.get(values["reason"], str(values["reason"])) if status == "REJECTED" else None
    return status, reason
