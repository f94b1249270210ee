"""The app contract: what a flight application reads, writes, owes its budget, and how one is chosen.

Every app class declares, as class attributes (docs/app-contract.md):

- ``task`` : the schedule task it implements (its ``[[schedule]]`` row in flight.toml gives its rate and
  CPU budget per call);
- ``reads`` : the bus records it reads (``None``: the records its configuration names, e.g. housekeeping's
  packet list); ``writes`` : the bus records it publishes. The bus refuses a read or a write that is not
  declared, naming the app, the record and the declaration;
- ``config_section`` : its table in gnc.toml (or in ``config_file``, a TOML file beside its module);
- ``event_names`` : the events of ``telemetry.dictionary.EVENTS`` it may issue.

A swappable task (``guidance``) is chosen by ``[apps]`` in flight.toml or the scenario's ``[flight.apps]``:
a built-in name (``closing_profile``, ``glideslope``), ``"package.module:Class"`` of any importable package,
or the name of an entry point in the ``qingzhou_fsw.apps`` group. A task key that names no shipped task adds
an app of the user's (it needs its own ``[[schedule]]`` row: no budget, no flight). Whatever does not match
the contract is refused at start-up with a :class:`ContractError` naming the task, the class and what is wrong.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from fsw.app import App, ConfigError
from fsw.config_loader import read_toml

ENTRY_POINT_GROUP = "qingzhou_fsw.apps"

#: Built-in implementations of each swappable task, by name; the first is the default.
BUILTIN: dict[str, dict[str, str]] = {
    "guidance": {
        "closing_profile": "fsw.apps.guidance:ApproachGuidance",
        "glideslope": "fsw.apps.glideslope:GlideslopeGuidance",
    },
}
DEFAULT = {task: next(iter(impls)) for task, impls in BUILTIN.items()}

#: What other apps and the runner call on an implementation of a swappable task (methods, then attributes).
COLLABORATION: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "guidance": (("hold", "retreat", "retry", "cam", "docked", "external_impulse", "far_range_arrived"),
                 ("dv_total", "dist_m", "hold_time_log", "hold_arrival_log", "cam_trigger", "far_range")),
}


class ContractError(ConfigError):
    """An app implementation does not match the contract (message: task, class, what does not match)."""


@dataclass
class AppContext:
    """Everything the topology offers an app it builds from configuration (``cls.from_context(ctx)``)."""

    name: str                 # the task name, also the app's name on the bus and in events
    bus: object
    events: object
    hal: object
    gnc: dict                 # gnc.toml
    gnc_path: Path
    vehicle: object           # fsw.config_loader.Vehicle (loaded mass as uplinked)
    modes: object
    commanding: object
    period_s: float           # [s] the task's period from its schedule row
    budget_us: float          # [us] its CPU budget per call
    start_hold: int = 0       # scenario [flight].start_hold
    config: dict | None = None  # its config section (None when it declares none)
    config_path: Path | None = None


def class_name(cls) -> str:
    return f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', repr(cls))}"


def refusal_head(task: str, spec: str, cls=None, where: str = "[flight.apps]") -> str:
    """How every refusal of an implementation begins: where it was chosen, the task, the spec and the class."""
    head = f"{where} {task} = {spec!r}"
    return head if cls is None else f"{head} (class {class_name(cls)})"


def known_names() -> tuple[set[str], set[str]]:
    """The bus records an app may declare (fsw.messages' internal ones and the packet dictionary's) and the event
    names it may issue (telemetry.dictionary.EVENTS)."""
    from fsw.messages import INTERNAL
    from telemetry.dictionary import EVENTS, TM_BY_NAME

    return set(INTERNAL) | set(TM_BY_NAME), {ev.name for ev in EVENTS}


def selection(flight_cfg: dict, overrides: dict, flight_path: str = "flight.toml") -> dict[str, str]:
    """task -> implementation spec: flight.toml ``[apps]``, then the scenario's ``[flight.apps]`` over it."""
    chosen = dict(DEFAULT)
    for where, table in ((f"{flight_path}: [apps]", flight_cfg.get("apps", {})),
                         ("scenario [flight.apps]", overrides.get("apps", {}))):
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table of task = \"implementation\", got {table!r}")
        for task, spec in table.items():
            if not isinstance(spec, str) or not spec.strip():
                raise ConfigError(f"{where}: {task} must be an implementation name or \"package.module:Class\", "
                                  f"got {spec!r}")
            chosen[task] = spec.strip()
    return chosen


def entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed entry points of the ``qingzhou_fsw.apps`` group, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def resolve(task: str, spec: str, where: str = "[flight.apps]"):
    """The class ``spec`` names for ``task`` (built-in name, ``module:Class`` or entry point)."""
    head = refusal_head(task, spec, where=where)
    target = BUILTIN.get(task, {}).get(spec)
    eps = None
    if target is None and ":" not in spec:
        eps = entry_points()
        if spec not in eps:
            known = sorted(BUILTIN.get(task, {})) + sorted(eps)
            raise ContractError(f"{head}: no such implementation (built-in or entry point of group "
                                f"{ENTRY_POINT_GROUP!r}: {known}; or give \"package.module:Class\")")
        try:
            return eps[spec].load()
        except Exception as err:  # a broken third-party package: its own error, on one line
            raise ContractError(f"{head}: entry point {eps[spec].value!r} does not load "
                                f"({type(err).__name__}: {err})") from None
    module_name, _, attr = (target or spec).partition(":")
    if not module_name or not attr:
        raise ContractError(f"{head}: expected \"package.module:Class\"")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise ContractError(f"{head}: module {module_name!r} does not import ({type(err).__name__}: {err})") \
            from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ContractError(f"{head}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    return obj


def check_class(task: str, cls, spec: str, budgets: dict[str, float], known_records, known_events,
                where: str = "[flight.apps]") -> None:
    """Refuse a class that does not match the contract of ``task``, before it is built."""
    if not (inspect.isclass(cls) and issubclass(cls, App)):
        raise ContractError(f"{refusal_head(task, spec, where=where)}: {cls!r} is not a class derived from "
                            "fsw.app.App")
    head = refusal_head(task, spec, cls, where)
    if getattr(cls, "task", None) != task:
        raise ContractError(f"{head}: declares task = {getattr(cls, 'task', None)!r}, not {task!r}")
    step = getattr(cls, "step", None)
    if step is None or step is App.step or not callable(step):
        raise ContractError(f"{head}: no step(t_ns) method (the executive calls it once per period)")
    if cls.periodic:
        budget = budgets.get(task)
        if budget is None:
            raise ContractError(f"{head}: task {task!r} has no budget: flight.toml has no [[schedule]] row for it "
                                "(task, rate_hz, offset, budget_us)")
        if not budget > 0:
            raise ContractError(f"{head}: task {task!r} has no budget: its [[schedule]] row gives budget_us = "
                                f"{budget!r} (a CPU time per call > 0 is owed)")
    for attr in ("reads", "writes"):
        declared = getattr(cls, attr, None)
        if declared is None and attr == "reads":
            continue
        if not isinstance(declared, tuple) or not all(isinstance(r, str) for r in declared):
            raise ContractError(f"{head}: {attr} must be a tuple of bus record names, got {declared!r}")
    unknown = sorted(set(cls.writes) - set(known_records))
    if unknown:
        raise ContractError(f"{head}: writes {unknown}: no such record in fsw.messages / the packet dictionary")
    bad_events = sorted(set(getattr(cls, "event_names", ())) - set(known_events))
    if bad_events:
        raise ContractError(f"{head}: events {bad_events} are not in telemetry.dictionary.EVENTS")
    methods, _ = COLLABORATION.get(task, ((), ()))
    missing = [m for m in methods if not callable(getattr(cls, m, None))]
    if missing:
        raise ContractError(f"{head}: the {task} task's collaborators call {missing}, which it does not have "
                            f"(subclass {BUILTIN[task][DEFAULT[task]]} to inherit them)")


def check_instance(task: str, app, spec: str, where: str = "[flight.apps]") -> None:
    """After construction: the attributes the task's collaborators read are there."""
    _, attrs = COLLABORATION.get(task, ((), ()))
    missing = [a for a in attrs if not hasattr(app, a)]
    if missing:
        raise ContractError(f"{refusal_head(task, spec, type(app), where)}: the {task} task's collaborators read "
                            f"{missing}, which it does not set")


def config_section(cls, gnc: dict, gnc_path: Path, task: str, spec: str,
                   where: str = "[flight.apps]") -> tuple[dict | None, Path | None]:
    """The app's config section: ``[config_section]`` of its ``config_file`` (beside its module) or gnc.toml."""
    section = getattr(cls, "config_section", None)
    if section is None:
        return None, None
    head = refusal_head(task, spec, cls, where)
    path, doc = gnc_path, gnc
    rel = getattr(cls, "config_file", None)
    if rel is not None:
        module = importlib.import_module(cls.__module__)
        path = Path(module.__file__).resolve().parent / rel
        if not path.is_file():
            raise ContractError(f"{head}: config_file {str(path)!r} does not exist")
        doc = read_toml(path)
    if not isinstance(doc.get(section), dict):
        raise ContractError(f"{head}: config section [{section}] is missing from {path}")
    return doc[section], path


def check_selection(task: str, spec: str, config_dir: Path | None = None, where: str = "[flight.apps]"):
    """Resolve ``spec`` for ``task`` and check it against the contract and flight.toml's budgets, without building a
    flight (ground tools check before they fly: ``qz mc --compare``). Returns the class."""
    from fsw.executive.schedule import load_schedule_table

    config_dir = Path(config_dir) if config_dir is not None else Path(__file__).resolve().parent / "config"
    budgets = {row.task: row.budget_us for row in load_schedule_table(read_toml(config_dir / "flight.toml")).rows}
    cls = resolve(task, spec, where)
    check_class(task, cls, spec, budgets, *known_names(), where)
    return cls


def contract_markdown(apps: dict, budgets: dict[str, float], rates: dict[str, float]) -> str:
    """The table of docs/app-contract.md: each app's task, class, reads, writes, config section, schedule row and
    events, from the classes' declarations (a test keeps the page equal to this)."""
    def cell(items):
        return "any its configuration names" if items is None else ", ".join(f"`{i}`" for i in items) or "-"

    lines = ["| task | class | reads | writes | config section | rate, budget | events |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, app in apps.items():
        cls = type(app)
        row = (f"{rates[name]:g} Hz, {budgets[name]:g} us" if name in budgets else "on request (not periodic)")
        section = f"gnc.toml `[{cls.config_section}]`" if cls.config_section else "-"
        lines.append(f"| `{name}` | `{class_name(cls)}` | {cell(cls.reads)} | {cell(cls.writes)} | {section} | {row} | "
                     f"{cell(cls.event_names)} |")
    return "\n".join(lines) + "\n"
