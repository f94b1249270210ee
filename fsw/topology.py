"""The one place where flight applications are created, wired to each other and scheduled.

``build_flight`` takes a HAL backend (sim or serial: the flight code does not care which), a
clock and a downlink sink, reads ``fsw/config/*.toml`` and returns a ready ``Flight``. The
schedule table in ``flight.toml`` is the single source of rates and CPU budgets: the executive's
run-time monitor, ``make bench`` and the reports all read it through ``load_flight_config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fsw.app import Bus, ConfigError, WiringError
from fsw.apps.attitude import AttitudeControl
from fsw.apps.commanding import CommandDispatcher, CommandRejected
from fsw.apps.docking import DockingMonitor
from fsw.apps.far_range import FarRangeGuidance
from fsw.apps.fdir import FaultProtection
from fsw.apps.ground_link import GroundLink, LinkSetup
from fsw.apps.housekeeping import Housekeeping
from fsw.apps.modes import ModeManager
from fsw.apps.navigation import RelativeNavigation
from fsw.apps.orbit_ref import OrbitReference
from fsw.apps.thermal import ThermalControl
from fsw.apps.thrusters import ThrusterControl
from fsw.config_loader import load_vehicle, read_toml
from fsw.contract import (
    AppContext,
    ContractError,
    check_class,
    check_instance,
    class_name,
    config_section,
    known_names,
    refusal_head,
    resolve,
    selection,
)
from fsw.downlink import Downlink
from fsw.executive.clock import cpu_ns
from fsw.executive.events import EventService, packet_text
from fsw.executive.executive import Executive
from fsw.executive.schedule import load_schedule_table
from hal.interface import Hal
from telemetry.dictionary import ABORT_TRIGGERS, EVENT_SOURCES, MODES

CONFIG_DIR = Path(__file__).parent / "config"
ABORT_TRIGGER_FDIR = next(code for code, name in ABORT_TRIGGERS.items() if name == "FDIR")
SOURCE_IDS = {name: code for code, name in EVENT_SOURCES.items()}  # event sources that are not tasks
EXECUTIVE_SOURCE_ID = SOURCE_IDS["executive"]


def load_flight_config(config_dir: Path = CONFIG_DIR) -> dict:
    """Read ``flight.toml``; the schedule table in it is what every timing tool uses."""
    path = Path(config_dir) / "flight.toml"
    cfg = read_toml(path)
    for key in ("executive", "schedule", "commanding", "telemetry", "ground_link"):
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
                 config_dir: Path = CONFIG_DIR, pre_frame=None, post_frame=None, idle_frames=None,
                 skipped_frames=None, wrap_step=None, link: LinkSetup | None = None) -> Flight:
    """Create, wire and schedule every app.

    ``overrides`` is the scenario's opaque ``[flight]`` table: ``initial_mode``, ``start_hold``,
    ``station_rv_N`` (the station state vector the ground uplinks, [r m, v m/s] inertial) and
    ``far_range`` (true: far-range guidance flies from orbit insertion to the first hold) and ``apps``
    (task -> implementation, over flight.toml's ``[apps]``: fsw/contract.py, docs/app-contract.md).
    ``pre_frame(t_ns)`` / ``post_frame(t_ns)`` run around each frame after the HAL's poll / before
    its flush (the SIL runner advances the truth in ``post_frame``). ``idle_frames(t_ns, n)``, when
    the clock is simulated and the HAL has nothing to do per frame, takes runs of frames without
    tasks in one call (see :class:`fsw.executive.Executive`); otherwise it is not used and every
    frame goes through ``post_frame``. ``skipped_frames(t_ns, n)``: what the world does in slots a late flight
    skipped (:class:`fsw.executive.Executive`). ``wrap_step(task, step)``, when
    given, returns the callable the executive runs for each scheduled task (fault injection by a test
    bench, e.g. overrun storms); the apps themselves are not changed. ``link``, when given, is the
    ground link to serve (transport, keys, ARSN state): every downlinked packet also goes to its clients.
    """
    overrides = dict(overrides or {})
    config_dir = Path(config_dir)
    cfg = load_flight_config(config_dir)
    gnc_path = config_dir / "gnc.toml"
    gnc = read_toml(gnc_path)
    vehicle = load_vehicle(config_dir / "vehicle.toml")
    if "mass_kg" in overrides:  # the loaded mass the ground uplinks (loading manifest)
        mass = overrides.pop("mass_kg")
        if not isinstance(mass, int | float) or isinstance(mass, bool) or not 0.0 < mass < 1e5:
            raise ConfigError(f"scenario [flight]: mass_kg (the uplinked loaded mass) must be a number in (0, 1e5) kg, "
                              f"got {mass!r}")
        vehicle = dataclasses.replace(vehicle, mass_kg=float(mass))
    if "com_B_m" in overrides:  # the centre of mass the ground computes from the loading manifest
        raw = overrides.pop("com_B_m")
        try:
            com = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            com = np.full(1, np.nan)
        if com.shape != (3,) or not np.all(np.isfinite(com)) or np.abs(com).max() >= 5.0:
            raise ConfigError("scenario [flight]: com_B_m (the uplinked centre of mass) must be 3 numbers inside "
                              f"+-5 m of the vehicle table's origin, got {raw!r}")
        vehicle = dataclasses.replace(vehicle, com_B_m=com)
    port_B_m = vehicle.about_com(vehicle.port_B_m)  # the docking port w.r.t. the centre of mass as loaded
    bus = Bus()
    # Device records are on the bus too, so monitors (FDIR) watch exactly what the apps read.
    for name, record in {**hal.sensors, **hal.actuators}.items():
        bus.publish(name, "hal", record)
    task_ids: dict[str, int] = {row["task"]: i for i, row in enumerate(cfg["schedule"])}
    downlink = Downlink(downlink_sink)

    def event_packet(ev) -> None:
        downlink.send_values("EVENT", ev.t_ns, (
            ev.event_id, ev.severity, task_ids.get(ev.source, SOURCE_IDS.get(ev.source, EXECUTIVE_SOURCE_ID)),
            ev.args[0], ev.args[1], packet_text(ev)))  # the dictionary's text length, suppressed count kept

    events = EventService(sinks=[event_packet, *event_sinks], time_source=clock.now_ns)
    table = load_schedule_table(cfg)
    rates = {row.task: row.rate_hz for row in table.rows}

    def period_s(task: str) -> float:
        if task not in rates:
            raise ConfigError(f"flight.toml: no [[schedule]] row for task {task!r}")
        return 1.0 / rates[task]

    modes = ModeManager("modes", bus, events, config_dir / "modes.toml", initial=overrides.pop("initial_mode", None))
    commanding = CommandDispatcher("commanding", bus, events, downlink, cfg["commanding"])
    commanding.register("SET_MODE", lambda args, t_ns: _set_mode(modes, args, t_ns))
    ground_link = GroundLink("ground_link", bus, events, downlink, commanding, cfg["ground_link"], link)
    if link is not None:
        downlink.sink = _tee(downlink_sink, ground_link.enqueue)
    housekeeping = Housekeeping("housekeeping", bus, events, downlink, cfg["telemetry"])
    if "station_rv_N" not in overrides:
        raise ConfigError("scenario [flight]: station_rv_N (the uplinked station state vector) is required")
    orbit_ref = OrbitReference("orbit_ref", bus, events, gnc, gnc_path, overrides.pop("station_rv_N"), hal)
    navigation = RelativeNavigation("navigation", bus, events, hal, gnc, gnc_path, port_B_m=port_B_m,
                                    mass_kg=vehicle.mass_kg, com_B_m=vehicle.com_B_m)
    attitude = AttitudeControl("attitude", bus, events, hal, gnc, gnc_path, vehicle.inertia_kg_m2, vehicle=vehicle)
    chosen = selection(cfg, {"apps": overrides.pop("apps", {})}, str(config_dir / "flight.toml"))
    budgets = {row.task: row.budget_us for row in table.rows}
    known_records, known_events = known_names()
    known_records |= set(bus.records())
    start_hold = int(overrides.pop("start_hold", 0))

    def chosen_app(task: str):
        """Build the implementation configured for ``task``, checked against the contract first."""
        spec = chosen[task]
        cls = resolve(task, spec)
        check_class(task, cls, spec, budgets, known_records, known_events)
        section, section_path = config_section(cls, gnc, gnc_path, task, spec)
        ctx = AppContext(task, bus, events, hal, gnc, gnc_path, vehicle, modes, commanding,
                         period_s(task) if cls.periodic else 0.0, budgets.get(task, 0.0), start_hold=start_hold,
                         config=section, config_path=section_path)
        try:
            app = cls.from_context(ctx)
        except WiringError as err:
            raise ContractError(f"{refusal_head(task, spec, cls)}: {err}") from None
        check_instance(task, app, spec)
        return app

    guidance = chosen_app("guidance")
    far_range = FarRangeGuidance("far_range", bus, events, hal, gnc, gnc_path, vehicle, config_dir / "vehicle.toml",
                                 guidance, modes, period_s("far_range"),
                                 enabled=bool(overrides.pop("far_range", False)), commanding=commanding)
    guidance.far_range = far_range.enabled
    docking = DockingMonitor("docking", bus, events, hal, gnc, gnc_path, guidance, port_B_m)
    thruster_control = ThrusterControl("thruster_control", bus, events, hal, vehicle, period_s("thruster_control"))
    thermal = ThermalControl("thermal", bus, events, hal, config_dir / "thermal.toml", period_s("thermal"),
                             commanding=commanding)
    responders = {
        "HOLD": lambda r: guidance.hold(r.t_ns),
        "RETREAT": lambda r: guidance.retreat(r.t_ns),
        "RETRY": lambda r: guidance.retry(r.t_ns),
        "CAM": lambda r: guidance.cam(ABORT_TRIGGER_FDIR, r.t_ns),
        "SAFE": lambda r: modes.request("SAFE", "fdir", r.t_ns),
        "MODE": lambda r: modes.request(r.mode, "fdir", r.t_ns),
        "SWITCH_UNIT": lambda r: thermal.switch_unit(r.device, r.zone, r.t_ns),
    }
    fdir = FaultProtection("fdir", bus, events, config_dir / "fdir.toml", responders, commanding=commanding)
    apps = {app.name: app for app in (modes, ground_link, commanding, housekeeping, orbit_ref, navigation, attitude,
                                      guidance, far_range, docking, thruster_control, thermal, fdir)}
    for task in chosen:  # a task the shipped topology does not have: the user's own app, with its own budget
        if task not in apps:
            apps[task] = chosen_app(task)

    unscheduled = sorted(name for name, app in apps.items() if app.periodic and name not in rates)
    if unscheduled:
        raise ConfigError(f"flight.toml: no [[schedule]] row for app(s) {unscheduled}: every periodic app is "
                          "scheduled, with its rate and CPU budget")
    tasks = apps if wrap_step is None else {name: _Wrapped(wrap_step(name, app.step)) for name, app in apps.items()}
    schedule = table.build(tasks)
    pre = _chain(_overridden(hal, "poll"), pre_frame)
    flush = _overridden(hal, "flush")
    batchable = pre is None and flush is None and getattr(clock, "simulated", False)
    executive = Executive(schedule, clock, events=events, pre_frame=pre, post_frame=_chain(flush, post_frame),
                          idle_frames=idle_frames if batchable else None, skipped_frames=skipped_frames,
                          cpu_ns=cpu_ns if getattr(clock, "simulated", False) else None)
    housekeeping.attach(modes, commanding, executive)
    if overrides:
        raise ConfigError(f"scenario [flight]: keys not used by this topology: {sorted(overrides)}")
    for app in apps.values():
        try:
            app.start()
        except WiringError as err:
            if app.name not in chosen:
                raise
            raise ContractError(f"{refusal_head(app.name, chosen[app.name], type(app))}: {err}") from None
        unwritten = sorted(set(type(app).writes) - bus.published_by(app.name))
        if unwritten:
            raise WiringError(f"{app.name} (class {class_name(type(app))}): declares writes {unwritten} but never "
                              "publishes them")
    return Flight(executive, bus, events, downlink, modes, commanding, apps, cfg)


class _Wrapped:
    """A task whose ``step`` is a test bench's wrapper around the app's."""

    __slots__ = ("step",)

    def __init__(self, step):
        self.step = step


def _overridden(hal, name: str):
    """``hal.<name>`` if the backend does something there (the sim backend's poll/flush are no-ops)."""
    method = getattr(hal, name)
    return None if getattr(type(hal), name) is getattr(Hal, name) else method


def _chain(first, second):
    if first is None or second is None:
        return second if first is None else first

    def both(t_ns):
        first(t_ns)
        second(t_ns)
    return both


def _tee(first, second):
    def both(packet: bytes) -> None:
        first(packet)
        second(packet)
    return both


def _set_mode(modes: ModeManager, args, t_ns) -> None:
    ok, reason = modes.request(MODES[int(args["mode"])], "ground", t_ns)
    if not ok:
        raise CommandRejected("ILLEGAL_IN_MODE", reason)


