"""The one place where flight applications are created, wired to each other and scheduled.

``build_flight`` takes a HAL backend (sim or serial: the flight code does not care which), a
clock and a downlink sink, reads ``fsw/config/*.toml`` and returns a ready ``Flight``. The
schedule table in ``flight.toml`` is the single source of rates and CPU budgets: the executive's
run-time monitor, ``make bench`` and the reports all read it through ``load_flight_config``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fsw.app import Bus, ConfigError
from fsw.apps.commanding import CommandDispatcher, CommandRejected
from fsw.apps.housekeeping import Housekeeping
from fsw.apps.modes import ModeManager
from fsw.downlink import Downlink
from fsw.executive.events import EventService
from fsw.executive.executive import Executive
from fsw.executive.schedule import load_schedule_table
from telemetry.dictionary import MODES, SEVERITIES

CONFIG_DIR = Path(__file__).parent / "config"
EXECUTIVE_SOURCE_ID = 255
_SEVERITY_CODES = {name: code for code, name in SEVERITIES.items()}


def load_flight_config(config_dir: Path = CONFIG_DIR) -> dict:
    """Read ``flight.toml``; the schedule table in it is what every timing tool uses."""
    path = Path(config_dir) / "flight.toml"
    with open(path, "rb") as fh:
        cfg = tomllib.load(fh)
    for key in ("executive", "schedule", "commanding", "telemetry"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing [{key}]")
    return cfg


@dataclass
class Flight:
    """A wired flight software instance."""

    executive: Executive
    bus: Bus
    events: EventService
    downlink: Downlink
    modes: ModeManager
    commanding: CommandDispatcher
    apps: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def uplink(self, packet: bytes) -> None:
        """Hand one telecommand packet to the flight software (ground link)."""
        self.commanding.uplink(packet)


def build_flight(hal, clock, downlink_sink, *, overrides: dict | None = None, event_sinks=(),
                 config_dir: Path = CONFIG_DIR, pre_frame=None, post_frame=None) -> Flight:
    """Create, wire and schedule every app.

    ``overrides`` is the scenario's opaque ``[flight]`` table (initial mode, start hold point...).
    ``pre_frame(t_ns)`` / ``post_frame(t_ns)`` run around each frame after the HAL's poll / before
    its flush (the SIL runner advances the truth in ``post_frame``).
    """
    overrides = dict(overrides or {})
    cfg = load_flight_config(config_dir)
    bus = Bus()
    task_ids: dict[str, int] = {row["task"]: i for i, row in enumerate(cfg["schedule"])}
    downlink = Downlink(downlink_sink)

    def event_packet(ev) -> None:
        downlink.send_values("EVENT", ev.t_ns, (
            ev.event_id, _SEVERITY_CODES.get(ev.severity, ev.severity) if isinstance(ev.severity, str)
            else ev.severity, task_ids.get(ev.source, EXECUTIVE_SOURCE_ID),
            float(ev.args[0]), float(ev.args[1]), ev.text.encode("ascii", "replace")[:48]))

    events = EventService(sinks=[event_packet, *event_sinks], time_source=clock.now_ns)

    modes = ModeManager("modes", bus, events, Path(config_dir) / "modes.toml",
                        initial=overrides.pop("initial_mode", None))
    commanding = CommandDispatcher("commanding", bus, events, downlink, cfg["commanding"])
    commanding.register("SET_MODE", lambda args, t_ns: _set_mode(modes, args, t_ns))
    housekeeping = Housekeeping("housekeeping", bus, events, downlink, cfg["telemetry"])
    apps = {"modes": modes, "commanding": commanding, "housekeeping": housekeeping}

    schedule = load_schedule_table(cfg).build(apps)
    executive = Executive(schedule, clock, events=events, pre_frame=_chain(hal.poll, pre_frame),
                          post_frame=_chain(hal.flush, post_frame))
    housekeeping.attach(modes, commanding, executive)
    for app in apps.values():
        app.start()
    if overrides:
        unused = sorted(overrides)
        raise ConfigError(f"scenario [flight]: keys not used by this topology: {unused}")
    return Flight(executive, bus, events, downlink, modes, commanding, apps, cfg)


def _chain(first, second):
    if second is None:
        return first

    def both(t_ns):
        first(t_ns)
        second(t_ns)
    return both


def _set_mode(modes: ModeManager, args, t_ns) -> None:
    ok, reason = modes.request(MODES[int(args["mode"])], "ground", t_ns)
    if not ok:
        raise CommandRejected("ILLEGAL_IN_MODE", reason)


