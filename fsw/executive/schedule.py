"""The schedule table: which task runs in which minor-frame slot, and its CPU budget.

As F Prime's RateGroupDriver, each entry divides the base tick (the minor frame) by a divisor and
runs at a slot offset; as cFS SCH, the result is a slot table over the major frame, and the entries
of one slot run in table order. The table is checked at start-up: a bad entry or a slot whose
budgets exceed the CPU margin raises :class:`ScheduleError` naming what is wrong.

The budget table lives in one TOML file that the topology, the benchmarks and the reports all read::

    [executive]            # optional; defaults from fsw/executive/defaults.py
    minor_frame_ns = 10_000_000
    major_frame_ns = 1_000_000_000
    cpu_fraction = 0.5

    [[schedule]]
    task = "attitude"
    rate_hz = 10
    offset = 0             # minor-frame slot within the task's period
    budget_us = 300        # CPU per call
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fsw.executive import defaults
from telemetry.units import NS_PER_S

_NS_PER_US = 1_000
_SLOTS_LISTED = 5  # offending slots spelled out in a refusal; the rest are counted
_RATE_RTOL = 1e-9  # a rate "divides" the base rate when the divisor is an integer to this tolerance


class ScheduleError(ValueError):
    """A schedule table that must not fly: the message names the entry (or slot) and the field."""


@dataclass(frozen=True)
class ScheduleEntry:
    """One row of the schedule table.

    Parameters
    ----------
    name : str
        Unique task name (events, telemetry and reports use it).
    task : object
        Anything with a ``step(t_ns)`` method.
    rate_hz : float
        [Hz] call rate; the minor-frame rate divided by it must be an integer.
    offset : int
        [slots] minor-frame slot within the task's period at which it runs, ``0 <= offset < divisor``.
    budget_us : float
        [us] CPU budget per call.
    """

    name: str
    task: object
    rate_hz: float
    offset: int
    budget_us: float

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ScheduleError(f"schedule entry {self.name!r}: field 'name' must be a non-empty string")
        if not callable(getattr(self.task, "step", None)):
            raise ScheduleError(f"schedule entry {self.name!r}: field 'task' has no step(t_ns) method "
                                f"(got {type(self.task).__name__})")
        if not _is_real(self.rate_hz) or not self.rate_hz > 0:
            raise ScheduleError(f"schedule entry {self.name!r}: field 'rate_hz' must be a positive number, "
                                f"got {self.rate_hz!r}")
        if not isinstance(self.offset, int) or isinstance(self.offset, bool) or self.offset < 0:
            raise ScheduleError(f"schedule entry {self.name!r}: field 'offset' must be an integer slot >= 0, "
                                f"got {self.offset!r}")
        if not _is_real(self.budget_us) or not self.budget_us >= 0 or not math.isfinite(self.budget_us):
            raise ScheduleError(f"schedule entry {self.name!r}: field 'budget_us' must be a finite number "
                                f">= 0, got {self.budget_us!r}")

    @property
    def budget_ns(self) -> int:
        """[ns] CPU budget per call."""
        return round(self.budget_us * _NS_PER_US)


class Schedule:
    """A validated slot table.

    Parameters
    ----------
    entries : sequence of ScheduleEntry
        Table order is dispatch order within a slot.
    minor_frame_ns, major_frame_ns : int
        [ns] frame periods; the major frame must be a whole number of minor frames.
    cpu_fraction : float
        Budgets due in one slot may sum to at most this fraction of the minor frame.

    Attributes
    ----------
    entries : tuple of ScheduleEntry
    divisors : tuple of int
        Minor frames per call of each entry.
    slots_per_major : int
        Minor frames per major frame.
    n_slots : int
        Length of the dispatch table: the major frame, or a multiple of it when an entry runs slower
        than once per major frame (the table repeats with period ``n_slots`` frames).
    slots : tuple of tuple of int
        Per slot, the indices of the entries due, in table order.

    Raises
    ------
    ScheduleError
        On a bad entry, a duplicate name, or a slot over the CPU margin.
    """

    def __init__(self, entries: Sequence[ScheduleEntry], minor_frame_ns: int = defaults.MINOR_FRAME_NS,
                 major_frame_ns: int = defaults.MAJOR_FRAME_NS, cpu_fraction: float = defaults.CPU_FRACTION):
        if int(minor_frame_ns) != minor_frame_ns or minor_frame_ns <= 0:
            raise ScheduleError(f"schedule: minor_frame_ns must be a positive integer, "
                                f"got {minor_frame_ns!r}")
        if int(major_frame_ns) != major_frame_ns or major_frame_ns <= 0 or major_frame_ns % minor_frame_ns:
            raise ScheduleError(f"schedule: major_frame_ns ({major_frame_ns!r}) must be a positive "
                                f"multiple of minor_frame_ns ({minor_frame_ns})")
        if not 0.0 < cpu_fraction <= 1.0:
            raise ScheduleError(f"schedule: cpu_fraction must be in (0, 1], got {cpu_fraction!r}")
        self.minor_frame_ns = int(minor_frame_ns)
        self.major_frame_ns = int(major_frame_ns)
        self.cpu_fraction = float(cpu_fraction)
        self.slots_per_major = self.major_frame_ns // self.minor_frame_ns
        self.entries = tuple(entries)
        self._check_names()
        self.divisors = tuple(self._divisor(e) for e in self.entries)
        self.n_slots = math.lcm(self.slots_per_major, *self.divisors)
        self.slots = tuple(tuple(i for i, (e, d) in enumerate(zip(self.entries, self.divisors, strict=True))
                                 if slot % d == e.offset)
                           for slot in range(self.n_slots))
        self._check_load()

    @property
    def base_rate_hz(self) -> float:
        """[Hz] minor-frame rate."""
        return NS_PER_S / self.minor_frame_ns

    def index(self, name: str) -> int:
        """Table index of task ``name`` (its bit in ``failed_mask``, its ``task_id`` in telemetry)."""
        for i, e in enumerate(self.entries):
            if e.name == name:
                return i
        raise KeyError(f"schedule has no task {name!r}")

    def rate_groups(self) -> dict[int, tuple[int, ...]]:
        """Divisor -> indices of the entries at that rate, in table order (F Prime rate groups)."""
        groups: dict[int, list[int]] = {}
        for i, d in enumerate(self.divisors):
            groups.setdefault(d, []).append(i)
        return {d: tuple(members) for d, members in sorted(groups.items())}

    def slot_budget_us(self, slot: int) -> float:
        """[us] summed budgets of the entries due in ``slot``."""
        return sum(self.entries[i].budget_us for i in self.slots[slot % self.n_slots])

    def mean_load(self) -> float:
        """Average budgeted fraction of the minor frame over the table."""
        total_us = sum(self.slot_budget_us(s) for s in range(self.n_slots))
        return total_us * _NS_PER_US / (self.n_slots * self.minor_frame_ns)

    def table(self) -> list[dict]:
        """The budget table as rows ``{task, rate_hz, offset, budget_us, divisor}`` (JSON-serialisable)."""
        return [{"task": e.name, "rate_hz": e.rate_hz, "offset": e.offset, "budget_us": e.budget_us,
                 "divisor": d} for e, d in zip(self.entries, self.divisors, strict=True)]

    def _check_names(self) -> None:
        seen = set()
        for e in self.entries:
            if not isinstance(e, ScheduleEntry):
                raise ScheduleError(f"schedule: entries must be ScheduleEntry, got {type(e).__name__}")
            if e.name in seen:
                raise ScheduleError(f"schedule entry {e.name!r}: field 'name' is a duplicate")
            seen.add(e.name)

    def _divisor(self, e: ScheduleEntry) -> int:
        ratio = self.base_rate_hz / e.rate_hz
        d = round(ratio)
        if d < 1 or abs(ratio - d) > _RATE_RTOL * ratio:
            raise ScheduleError(f"schedule entry {e.name!r}: field 'rate_hz' = {e.rate_hz:g} does not "
                                f"divide the minor-frame rate {self.base_rate_hz:g} Hz")
        if self.slots_per_major % d and d % self.slots_per_major:
            raise ScheduleError(f"schedule entry {e.name!r}: field 'rate_hz' = {e.rate_hz:g} gives a "
                                f"period of {d} slots, which neither divides nor is a multiple of the "
                                f"{self.slots_per_major}-slot major frame")
        if e.offset >= d:
            raise ScheduleError(f"schedule entry {e.name!r}: field 'offset' = {e.offset} is out of range: "
                                f"it must be < {d}, the task's period in slots at {e.rate_hz:g} Hz")
        return d

    def _check_load(self) -> None:
        limit_us = self.cpu_fraction * self.minor_frame_ns / _NS_PER_US
        over = []
        for slot, members in enumerate(self.slots):
            load_us = sum(self.entries[i].budget_us for i in members)
            if load_us > limit_us:
                parts = " + ".join(f"{self.entries[i].name} {self.entries[i].budget_us:g} us"
                                   for i in members)
                over.append(f"slot {slot}: {load_us:g} us ({parts})")
        if over:
            more = len(over) - _SLOTS_LISTED
            listed = "; ".join(over[:_SLOTS_LISTED]) + (f"; and {more} more slot(s)" if more > 0 else "")
            raise ScheduleError(
                f"schedule refused: budgets exceed {self.cpu_fraction:.0%} of the "
                f"{self.minor_frame_ns / _NS_PER_US:g} us minor frame (limit {limit_us:g} us) in "
                f"{len(over)} slot(s): {listed}")


@dataclass(frozen=True)
class TableRow:
    """One row of a schedule table file, before tasks are bound to it."""

    task: str
    rate_hz: float
    offset: int
    budget_us: float


@dataclass(frozen=True)
class ScheduleTable:
    """A schedule table as read from TOML: rows plus frame parameters.

    The benchmarks and reports read budgets from it without creating any task; the topology binds
    tasks to it with :meth:`build`.
    """

    rows: tuple[TableRow, ...]
    minor_frame_ns: int = defaults.MINOR_FRAME_NS
    major_frame_ns: int = defaults.MAJOR_FRAME_NS
    cpu_fraction: float = defaults.CPU_FRACTION

    def budgets_us(self) -> dict[str, float]:
        """Task name -> [us] budget per call."""
        return {r.task: r.budget_us for r in self.rows}

    def build(self, tasks: Mapping[str, object]) -> Schedule:
        """Bind task objects by name and validate; ScheduleError names a row whose task is missing."""
        entries = []
        for r in self.rows:
            if r.task not in tasks:
                raise ScheduleError(f"schedule entry {r.task!r}: field 'task' names no task given to the "
                                    f"schedule (have {sorted(tasks)})")
            entries.append(ScheduleEntry(r.task, tasks[r.task], r.rate_hz, r.offset, r.budget_us))
        return Schedule(entries, self.minor_frame_ns, self.major_frame_ns, self.cpu_fraction)


_ROW_FIELDS = {"task": str, "rate_hz": (int, float), "offset": int, "budget_us": (int, float)}
_EXEC_FIELDS = {"minor_frame_ns": int, "major_frame_ns": int, "cpu_fraction": (int, float)}


def load_schedule_table(source) -> ScheduleTable:
    """Read a schedule table.

    Parameters
    ----------
    source : str, os.PathLike, mapping or sequence
        A TOML file path, an already parsed TOML document (with an ``schedule`` array of tables and an
        optional ``executive`` table), or just the list of rows ``{task, rate_hz, offset, budget_us}``.

    Raises
    ------
    ScheduleError
        Naming the row and field of a missing, unknown or mistyped field.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            doc = tomllib.load(f)
    else:
        doc = source
    if isinstance(doc, Mapping):
        rows = doc.get("schedule")
        if rows is None:
            raise ScheduleError("schedule table: no [[schedule]] rows")
        params = doc.get("executive", {})
    else:
        rows, params = doc, {}
    kwargs = {}
    for key, value in params.items():
        if key not in _EXEC_FIELDS:
            continue  # other executive settings (e.g. spin) belong to the runner
        if not isinstance(value, _EXEC_FIELDS[key]) or isinstance(value, bool):
            raise ScheduleError(f"schedule table [executive]: field {key!r} has type {type(value).__name__}")
        kwargs[key] = value
    parsed = []
    for n, row in enumerate(rows):
        label = f"row {n} ({row.get('task', '?')!r})" if isinstance(row, Mapping) else f"row {n}"
        if not isinstance(row, Mapping):
            raise ScheduleError(f"schedule table {label}: must be a table, got {type(row).__name__}")
        unknown = set(row) - set(_ROW_FIELDS)
        if unknown:
            raise ScheduleError(f"schedule table {label}: unknown field(s) {sorted(unknown)}; "
                                f"expected {list(_ROW_FIELDS)}")
        for key, kind in _ROW_FIELDS.items():
            if key not in row:
                if key == "offset":
                    continue
                raise ScheduleError(f"schedule table {label}: field {key!r} is missing")
            if not isinstance(row[key], kind) or isinstance(row[key], bool):
                raise ScheduleError(f"schedule table {label}: field {key!r} has type "
                                    f"{type(row[key]).__name__}")
        parsed.append(TableRow(row["task"], row["rate_hz"], row.get("offset", 0), row["budget_us"]))
    return ScheduleTable(tuple(parsed), **kwargs)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
