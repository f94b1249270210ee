"""Timing statistics in bounded memory: a log-linear (HDR-style) histogram and per-task records.

Histogram layout
----------------
A non-negative integer ``v`` (nanoseconds) with ``b = v.bit_length()`` falls in bin

- ``v`` itself when ``b <= SUB_BITS + 1`` (values below ``2**(SUB_BITS+1)`` are exact), else
- ``((b - SUB_BITS - 1) << SUB_BITS) + (v >> (b - SUB_BITS - 1))``: the top ``SUB_BITS + 1`` bits of
  ``v`` select one of ``2**SUB_BITS`` equal sub-bins of its power-of-two octave.

Bin ``i >= 2**(SUB_BITS+1)`` covers ``[m << s, (m + 1) << s)`` with ``s = (i >> SUB_BITS) - 1`` and
``m = 2**SUB_BITS + (i & (2**SUB_BITS - 1))``; its width ``2**s`` is at most ``2**-SUB_BITS`` of its lower
edge. A percentile is reported as the midpoint of the bin holding the nearest-rank sample (the
sample of rank ``ceil(q N)``, numpy's ``method="inverted_cdf"``), so it is within half a bin, i.e.
within ``2**-(SUB_BITS+1)`` relative (3.1 % for the default ``SUB_BITS = 4``), of that sample; it is
also clamped to the exact maximum. 64-bit values need ``(65 - SUB_BITS) << SUB_BITS`` bins (976 ints).

The executive inlines :func:`bin_index` in its dispatch loop (a ``bit_length``, a compare, two shifts);
a test checks that the inlined form and this one agree.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import accumulate

from fsw.executive import defaults

SUB_BITS = defaults.HIST_SUB_BITS
_EXACT_BITS = SUB_BITS + 1  # values with at most this many bits get a bin of their own
N_BINS = (65 - SUB_BITS) << SUB_BITS  # bin_index(2**64 - 1) is the last one
_NS_PER_US = 1e3


def bin_index(value: int) -> int:
    """Bin of a non-negative integer ``value`` (see the module docstring)."""
    b = value.bit_length()
    if b <= _EXACT_BITS:
        return value
    s = b - _EXACT_BITS
    return (s << SUB_BITS) + (value >> s)


def bin_bounds(index: int) -> tuple[int, int]:
    """Half-open value range ``[lo, hi)`` of bin ``index``."""
    if index < (1 << _EXACT_BITS):
        return index, index + 1
    s = (index >> SUB_BITS) - 1
    m = (1 << SUB_BITS) + (index & ((1 << SUB_BITS) - 1))
    return m << s, (m + 1) << s


def relative_error_bound() -> float:
    """Largest relative error of a reported percentile against its nearest-rank sample."""
    return 2.0 ** -(SUB_BITS + 1)


class LogHistogram:
    """Log-linear histogram of non-negative integers (ns) with exact count, sum and maximum.

    ``counts`` is a plain list so the executive's hot loop can increment a bin with one subscript.
    """

    __slots__ = ("counts", "total", "max")

    def __init__(self):
        self.counts = [0] * N_BINS
        self.total = 0  # [ns] exact sum of recorded values, for the mean
        self.max = 0  # [ns] exact largest recorded value

    def record(self, value: int) -> None:
        """Add one value [ns] (negative values count as 0)."""
        value = max(int(value), 0)
        self.counts[bin_index(value)] += 1
        self.total += value
        if value > self.max:
            self.max = value

    @property
    def count(self) -> int:
        """Values recorded."""
        return sum(self.counts[:bin_index(self.max) + 1])  # no value lies above the maximum

    def mean(self) -> float:
        """Exact mean [ns], 0 when empty."""
        n = self.count
        return self.total / n if n else 0.0

    def percentiles(self, *qs: float) -> tuple[float, ...]:
        """Nearest-rank ``q``-th percentiles (0 < q <= 100) [ns], within the documented bound; 0 when empty.

        One cumulative pass serves all ``qs`` (housekeeping asks for p50 and p99 every major frame).
        """
        for q in qs:
            if not 0.0 < q <= 100.0:
                raise ValueError(f"percentile: q must be in (0, 100], got {q}")
        cumulative = list(accumulate(self.counts[:bin_index(self.max) + 1]))  # no value lies above the maximum
        n = cumulative[-1]
        if n == 0:
            return tuple(0.0 for _ in qs)
        out = []
        for q in qs:
            rank = max(1, math.ceil(q * n / 100.0 - 1e-9))  # nearest rank; the epsilon absorbs float drift
            lo, hi = bin_bounds(bisect_left(cumulative, rank))
            mid = lo if hi - lo == 1 else 0.5 * (lo + hi - 1)
            out.append(float(min(mid, self.max)))
        return tuple(out)

    def percentile(self, q: float) -> float:
        """Nearest-rank ``q``-th percentile [ns] (see :meth:`percentiles`)."""
        return self.percentiles(q)[0]

    def summary_us(self) -> dict:
        """``{count, p50_us, p99_us, max_us, mean_us}`` for reports (JSON-serialisable)."""
        p50, p99 = self.percentiles(50.0, 99.0)
        return {
            "count": self.count,
            "p50_us": p50 / _NS_PER_US,
            "p99_us": p99 / _NS_PER_US,
            "max_us": self.max / _NS_PER_US,
            "mean_us": self.mean() / _NS_PER_US,
        }


class TaskStats(LogHistogram):
    """Execution-time statistics of one scheduled task.

    Attributes
    ----------
    name : str
        Task name (schedule entry name).
    index : int
        Task index in the schedule table (its bit in ``failed_mask``).
    budget_ns : int
        [ns] CPU budget per call.
    overruns : int
        Calls whose execution time exceeded the budget.
    errors : int
        Calls that raised.
    unconfirmed : int
        On a simulated clock: calls over the budget on the wall clock that no call over it on the CPU clock
        confirmed (the host took the time; fsw/executive/executive.py, "Overruns on a simulated clock").
    pending_ns : int
        [ns] wall time of such a call while its confirmation is awaited (0: none).
    """

    __slots__ = ("name", "index", "rate_hz", "budget_ns", "overruns", "errors", "unconfirmed", "pending_ns")

    def __init__(self, name: str, index: int, rate_hz: float, budget_ns: int):
        super().__init__()
        self.name = name
        self.index = index
        self.rate_hz = rate_hz
        self.budget_ns = budget_ns
        self.overruns = 0
        self.errors = 0
        self.unconfirmed = 0
        self.pending_ns = 0

    @property
    def calls(self) -> int:
        """Calls so far (each call is one histogram sample)."""
        return self.count

    def summary(self) -> dict:
        """``{calls, budget_us, p50_us, p99_us, max_us, mean_us, overruns, unconfirmed_overruns, errors}``
        (JSON-serialisable)."""
        s = self.summary_us()
        return {
            "calls": s["count"],
            "rate_hz": self.rate_hz,
            "budget_us": self.budget_ns / _NS_PER_US,
            "p50_us": s["p50_us"],
            "p99_us": s["p99_us"],
            "max_us": s["max_us"],
            "mean_us": s["mean_us"],
            "overruns": self.overruns,
            "unconfirmed_overruns": self.unconfirmed,
            "errors": self.errors,
        }


class RateGroupStats:
    """One rate group (the tasks sharing a rate), as F Prime's ActiveRateGroup.

    Attributes
    ----------
    rate_hz : float
        Rate of the group.
    period_ns : int
        [ns] period; a cycle that starts this late has slipped (the next cycle was already due).
    tasks : tuple of str
        Member task names in table order.
    cycles : int
        Cycles that ran (slots in which members were dispatched).
    cycle_slips : int
        Cycles that started at least one period late, plus cycles lost in skipped slots.
    """

    __slots__ = ("rate_hz", "period_ns", "tasks", "cycles", "cycle_slips")

    def __init__(self, rate_hz: float, period_ns: int, tasks: tuple[str, ...]):
        self.rate_hz = rate_hz
        self.period_ns = period_ns
        self.tasks = tasks
        self.cycles = 0
        self.cycle_slips = 0

    @property
    def name(self) -> str:
        """Group name, e.g. ``"10Hz"``."""
        return f"{self.rate_hz:g}Hz"

    def summary(self) -> dict:
        """``{rate_hz, tasks, cycles, cycle_slips}`` (JSON-serialisable)."""
        return {"rate_hz": self.rate_hz, "tasks": list(self.tasks), "cycles": self.cycles,
                "cycle_slips": self.cycle_slips}


def histograms(executive) -> dict:
    """Task name -> non-empty histogram bins ``[[lo_ns, hi_ns, count], ...]`` of an Executive's timing stats.

    For a run's summary to put in ``summary.json`` as ``timing_histograms`` (the EXEC_TASK_TIMING packets carry
    percentiles, not bins), so ``qz timing`` can plot real distributions.
    """
    out = {}
    for name, st in executive.stats_by_task.items():
        out[name] = [[*bin_bounds(i), c] for i, c in enumerate(st.counts) if c]
    return out
