"""The cyclic executive: dispatches the schedule table frame by frame and keeps its timing honest.

Per minor frame: wait for the boundary (note lateness), call ``pre_frame(t_ns)``, call the
``step(t_ns)`` of every task due in the slot in table order timing each with ``perf_ns``, then call
``post_frame(t_ns)`` (the runner flushes actuators and advances the truth there). Tasks get the
frame's *nominal* mission time, so SIL and HIL runs see the same ``t_ns``.

Policies
--------
- Overrun (as cFS SCH): a wake-up that finds ``k`` boundaries passed runs at most ``max_catch_up``
  (default 5) slots; if more are due it skips the oldest ones, counts them in ``skipped_slots``
  (the tasks due there lose that call), and emits a throttled event. So a wake-up ends caught up
  with real time.
- Cycle slips (as F Prime ActiveRateGroup): a frame that starts one minor frame or more late started
  after its deadline (``cycle_slips``); each rate group due in it slips when the frame started at least
  one group period late (its next cycle was already due), and every group due in a skipped slot slips.
- Budgets: a call longer than its budget counts an overrun and a throttled warning event. A frame
  whose lateness plus busy time passes the next boundary counts a frame overrun: in SIL that is the
  frame that would slip on a real-time target.
- Overruns on a simulated clock (``cpu_ns`` given): faster than real time, a call's wall time also holds
  whatever the host ran meanwhile, so a loaded host made calls "overrun" and FDIR hold the approach on a
  storm of them (docs/architecture.md, "Timing budgets"). There a task's call over its budget on the wall
  clock is held pending, and the task's calls are timed on ``cpu_ns`` too (the thread's CPU clock, 1.5 us a
  read) until ``OVERRUN_VERIFY_NS`` of mission time pass without a wall-clock overrun. A call over the
  budget on the CPU clock counts, and confirms the pending one, which counts with it; a window that ends
  unconfirmed adds the pending call to the task's ``unconfirmed`` instead. So a real storm (calls that use
  the processor) counts every call, and a host's stalls count none; an isolated call over its budget, never
  repeated within the window, is not told from a stall and stays unconfirmed (its time is in the task's
  maximum). On a wall clock (real time, HIL, flight) wall time decides: a deadline is a deadline, whoever
  took the processor.
- Faults: a task that raises is caught, counted, reported by an error event with the exception text,
  marked failed (bit ``index`` of ``failed_mask``) and not called again until :meth:`Executive.restart`.

Performance: the dispatch table is precomputed per slot as tuples of
``(bound step, stats, histogram counts, budget_ns, index)``; the loop does two counter reads, an inline
histogram update (``bit_length`` and two shifts) and three compares per call. Empty slots cost a
clock step and a list increment.
"""

from __future__ import annotations

from collections.abc import Callable

from fsw.executive import clock as _clock
from fsw.executive import defaults
from fsw.executive.events import CRITICAL, ERROR, INFO, WARNING, EventService
from fsw.executive.schedule import Schedule
from fsw.executive.stats import SUB_BITS, LogHistogram, RateGroupStats, TaskStats
from fsw.executive.timeline import FrameTimeline

_EXACT_BITS = SUB_BITS + 1  # must match fsw.executive.stats.bin_index, inlined in _run_frame
_NS_PER_US = 1e3
_PCT = 100.0
_U16_MAX = 0xFFFF
_WORST_SLOTS_REPORTED = 5

#: Source name of the executive's own events (telemetry source_id 255).
SOURCE = "executive"
# Event texts put the facts first: the EVENT packet keeps 48 characters, events.log keeps all.
# The executive's events (ids 1-99) are declared with every other in telemetry.dictionary.EVENTS.


class Executive:
    """Cyclic executive over a :class:`~fsw.executive.schedule.Schedule`.

    Parameters
    ----------
    schedule : Schedule
        Validated slot table.
    clock : SimClock or WallClock
        Time source; its minor frame must equal the schedule's.
    events : EventService, optional
        Where the executive's events go; a private service (counters only) when None. If its
        ``time_source`` is unset, it is bound to ``clock.now_ns``.
    pre_frame, post_frame : callable, optional
        Called with the frame's nominal ``t_ns`` before and after the frame's tasks.
    perf_ns : callable, optional
        Execution-time counter [ns]; :data:`fsw.executive.clock.perf_ns` by default, a fake in tests.
    max_catch_up : int
        Most slots run per late wake-up before skipping ahead.
    timeline : int, optional
        When given, record the ``timeline`` worst frames (see :mod:`fsw.executive.timeline`).
    idle_frames : callable, optional
        ``idle_frames(t_ns, n)`` does what ``n`` calls of ``post_frame`` for the frames from
        ``t_ns`` on would do (the SIL runner advances the truth ``n`` frames in one kernel call).
        With it, a run of two or more frames in which no task is due is handed over in one call
        instead of frame by frame. Simulated clocks only (``clock.simulated``), and only without
        ``pre_frame``: an idle frame must need nothing else. Frame counts and lateness are kept
        as if the frames had run one by one.
    skipped_frames : callable, optional
        ``skipped_frames(t_ns, n)``: what the world does during ``n`` slots skipped from ``t_ns`` on, called
        before the next frame runs (the paced SIL runner advances the truth: the world does not wait for a late
        flight, and the devices' time stamps stay those of the flight's clock).

    Attributes
    ----------
    stats_by_task : dict
        Task name -> :class:`~fsw.executive.stats.TaskStats`, in table order.
    rate_groups : dict
        Group name (``"10Hz"``) -> :class:`~fsw.executive.stats.RateGroupStats`.
    lateness : LogHistogram
        [ns] frame-start lateness of every frame run.
    frame_busy : LogHistogram
        [ns] time from the first task's start to the last task's end, frames with tasks only.
    failed_mask : int
        Bit ``i`` set: task ``i`` raised and is not called.
    frame_count, cycle_slips, skipped_slots, frame_overruns : int
        Frames run, frames started after their deadline, slots skipped, frames that ended past the
        next boundary.
    """

    def __init__(self, schedule: Schedule, clock, events: EventService | None = None,
                 pre_frame: Callable[[int], object] | None = None,
                 post_frame: Callable[[int], object] | None = None,
                 perf_ns: Callable[[], int] | None = None, max_catch_up: int = defaults.MAX_CATCH_UP_SLOTS,
                 timeline: int | None = None, idle_frames: Callable[[int, int], object] | None = None,
                 skipped_frames: Callable[[int, int], object] | None = None,
                 cpu_ns: Callable[[], int] | None = None):
        if clock.minor_frame_ns != schedule.minor_frame_ns:
            raise ValueError(f"Executive: clock minor frame {clock.minor_frame_ns} ns differs from the "
                             f"schedule's {schedule.minor_frame_ns} ns")
        if max_catch_up < 1:
            raise ValueError(f"Executive: max_catch_up must be >= 1, got {max_catch_up}")
        self.schedule = schedule
        self.clock = clock
        self.events = events if events is not None else EventService()
        if self.events.time_source is None:
            self.events.time_source = clock.now_ns
        self.pre_frame = pre_frame
        self.post_frame = post_frame
        if idle_frames is not None and (pre_frame is not None or not getattr(clock, "simulated", False)):
            raise ValueError("Executive: idle_frames needs a simulated clock and no pre_frame hook (a frame "
                             "without tasks must need nothing but post_frame)")
        self.idle_frames = idle_frames
        self.skipped_frames = skipped_frames
        self.max_catch_up = int(max_catch_up)
        self._perf = _clock.perf_ns if perf_ns is None else perf_ns
        self._cpu = cpu_ns
        self._verify_until: dict[int, int] = {}  # task index -> mission time [ns] its CPU-time check lasts until
        self._stale = False  # a CPU-time check started or ended in this frame: rebuild the table after it
        self._minor = schedule.minor_frame_ns
        self._n_slots = schedule.n_slots

        self.stats_by_task = {e.name: TaskStats(e.name, i, e.rate_hz, e.budget_ns)
                              for i, e in enumerate(schedule.entries)}
        self._stats = tuple(self.stats_by_task.values())
        self.rate_groups: dict[str, RateGroupStats] = {}
        group_of_divisor = {}
        for divisor, members in schedule.rate_groups().items():
            rate_hz = schedule.entries[members[0]].rate_hz
            names = tuple(schedule.entries[i].name for i in members)
            group = RateGroupStats(rate_hz, divisor * self._minor, names)
            self.rate_groups[group.name] = group
            group_of_divisor[divisor] = group
        # Per slot, the rate groups due in it, for slip accounting (only read on late frames).
        self._slot_groups = tuple(
            tuple(dict.fromkeys(group_of_divisor[schedule.divisors[i]] for i in members))
            for members in schedule.slots)
        self._slot_runs = [0] * self._n_slots  # frames run per slot: group cycles without per-frame cost
        self._slot_max_busy = [0] * self._n_slots  # [ns] longest busy time per slot, measured vs budgeted

        self.lateness = LogHistogram()
        self.frame_busy = LogHistogram()
        self._lateness_counts = self.lateness.counts
        self._busy_counts = self.frame_busy.counts
        self.failed_mask = 0
        self.frame_count = 0
        self.cycle_slips = 0
        self.skipped_slots = 0
        self.frame_overruns = 0
        self._overruns_reported = 0
        self._table: list[tuple] = [()] * self._n_slots
        self._idle_run: list[int] = []
        self._rebuild_table()
        self.timeline: FrameTimeline | None = None
        if timeline:
            self.enable_timeline(timeline)

    # ------------------------------------------------------------------ running

    def run(self, n_frames: int | None = None, until_ns: int | None = None,
            stop: Callable[[], bool] | None = None) -> int:
        """Run frames until ``n_frames`` clock frames have passed (run or skipped), mission time reaches
        ``until_ns``, or ``stop()`` returns True (checked before each wake-up). Return frames run."""
        clock = self.clock
        end = self._end_frame(n_frames, until_ns)
        start_count = self.frame_count
        wait_next = clock.wait_next
        run_frame = self._run_frame
        minor = self._minor
        idle = self.idle_frames
        idle_run = self._idle_run
        n_slots = self._n_slots
        while end is None or clock.frame + 1 < end:
            if stop is not None and stop():
                break
            if idle is not None:
                # Simulated time: a run of frames without tasks is handed to idle_frames in one call.
                first = clock.frame + 1
                n = idle_run[first % n_slots]
                if end is not None and n > end - first:
                    n = end - first
                if n > 1:
                    clock.skip(n)
                    self._lateness_counts[0] += n
                    self._hook_n(idle, first * minor, n)
                    self.frame_count += n
                    continue
            lateness = wait_next()
            if lateness < minor:
                run_frame(clock.frame, lateness)
            else:
                self._late_wakeup(lateness, end)
        return self.frame_count - start_count

    def step_frame(self) -> int:
        """One wake-up: wait for the next boundary, run the slot(s) due; return the frames run."""
        start_count = self.frame_count
        lateness = self.clock.wait_next()
        if lateness < self._minor:
            self._run_frame(self.clock.frame, lateness)
        else:
            self._late_wakeup(lateness, None)
        return self.frame_count - start_count

    def _end_frame(self, n_frames, until_ns):
        end = None
        if n_frames is not None:
            end = self.clock.frame + 1 + int(n_frames)
        if until_ns is not None:
            by_time = -(-int(until_ns) // self._minor)  # first frame whose nominal start is >= until_ns
            end = by_time if end is None else min(end, by_time)
        return end

    def _run_frame(self, frame: int, lateness: int) -> None:
        # The hot path: one method call per frame, the dispatch loop and histogram updates inlined.
        t_ns = frame * self._minor
        if lateness:
            self.lateness.record(lateness)
            if lateness >= self._minor:
                self._slipped(frame, lateness)
        else:
            self._lateness_counts[0] += 1
        if self.pre_frame is not None:
            self._hook(self.pre_frame, t_ns)
        slot = frame % self._n_slots
        entries = self._table[slot]
        if entries:
            if self.timeline is None:
                perf = self._perf
                t1 = f0 = perf()
                for step, st, counts, budget, _index in entries:
                    t0 = perf()
                    try:
                        step(t_ns)
                    except Exception as exc:  # a failing app must never stop the executive
                        t1 = perf()
                        st.record(t1 - t0)
                        self._task_raised(st, exc)
                        continue
                    t1 = perf()
                    d = t1 - t0
                    b = d.bit_length()
                    if b > _EXACT_BITS:
                        s = b - _EXACT_BITS
                        counts[(s << SUB_BITS) + (d >> s)] += 1
                    else:
                        counts[d] += 1
                    st.total += d
                    if d > st.max:
                        st.max = d
                    if d > budget:
                        self._overran(st, d, t_ns)
                busy = t1 - f0
                b = busy.bit_length()
                if b > _EXACT_BITS:
                    s = b - _EXACT_BITS
                    self._busy_counts[(s << SUB_BITS) + (busy >> s)] += 1
                else:
                    self._busy_counts[busy] += 1
                fb = self.frame_busy
                fb.total += busy
                if busy > fb.max:
                    fb.max = busy
                if busy > self._slot_max_busy[slot]:
                    self._slot_max_busy[slot] = busy
                if lateness + busy > self._minor:
                    self._frame_overran(frame, lateness + busy)
            else:
                busy = self._dispatch_recorded(entries, t_ns, lateness, frame)
                if busy > self._slot_max_busy[slot]:
                    self._slot_max_busy[slot] = busy
            self._slot_runs[slot] += 1
            if self._stale:
                self._stale = False
                self._rebuild_table()
        if self.post_frame is not None:
            self._hook(self.post_frame, t_ns)
        self.frame_count += 1

    def _dispatch_recorded(self, entries, t_ns: int, lateness: int, frame: int) -> int:
        """The dispatch loop of :meth:`_run_frame`, also recording each task's start and duration; return busy ns."""
        perf = self._perf
        spans = []
        t1 = f0 = perf()
        for step, st, _counts, budget, index in entries:
            t0 = perf()
            try:
                step(t_ns)
            except Exception as exc:  # a failing app must never stop the executive
                t1 = perf()
                st.record(t1 - t0)
                spans.append((index, lateness + t0 - f0, t1 - t0))
                self._task_raised(st, exc)
                continue
            t1 = perf()
            d = t1 - t0
            st.record(d)
            spans.append((index, lateness + t0 - f0, d))
            if d > budget:
                self._overran(st, d, t_ns)
        busy = t1 - f0
        self.frame_busy.record(busy)
        if lateness + busy > self._minor:
            self._frame_overran(frame, lateness + busy)
        self.timeline.offer(frame, t_ns, lateness, lateness + busy, spans)
        return busy

    def _frame_overran(self, frame: int, end_ns: int) -> None:
        self.frame_overruns += 1
        end_us = end_ns / _NS_PER_US
        self.events.emit("FRAME_OVERRUN", WARNING, SOURCE,
                         f"frame {frame} ended {end_us:.0f} us after its boundary", (end_us, frame))

    def _late_wakeup(self, lateness: int, end: int | None) -> None:
        """Catch up at most ``max_catch_up`` slots, skipping the oldest ones beyond that (cFS SCH)."""
        clock = self.clock
        frame = clock.frame
        due = lateness // self._minor + 1
        if end is not None:
            due = min(due, end - frame)
        n_run = min(due, self.max_catch_up)
        n_skip = due - n_run
        if n_skip:
            self._count_skipped(frame, n_skip)
            lateness = clock.skip(n_skip)
            if self.skipped_frames is not None:
                self._hook_n(self.skipped_frames, frame * self._minor, n_skip)
            frame = clock.frame
            self.events.emit("SLOTS_SKIPPED", ERROR, SOURCE,
                             f"skipped {n_skip} of {due} late slots, resumed at frame {frame}",
                             (n_skip, frame))
        self._run_frame(frame, lateness)
        for _ in range(n_run - 1):
            lateness = clock.wait_next()
            self._run_frame(clock.frame, lateness)

    def _count_skipped(self, first_frame: int, n_skip: int) -> None:
        self.skipped_slots += n_skip
        cycles, rest = divmod(n_skip, self._n_slots)
        for slot, groups in enumerate(self._slot_groups):
            if groups:
                hits = cycles + ((slot - first_frame) % self._n_slots < rest)
                for group in groups:
                    group.cycle_slips += hits

    def _slipped(self, frame: int, lateness: int) -> None:
        self.cycle_slips += 1
        for group in self._slot_groups[frame % self._n_slots]:
            if lateness >= group.period_ns:
                group.cycle_slips += 1
                self.events.emit("CYCLE_SLIP", WARNING, f"rg_{group.name}",
                                 f"rg {group.name} slip: frame {frame} started {lateness / _NS_PER_US:.0f} us late",
                                 (lateness / _NS_PER_US, frame))

    def _overran(self, st: TaskStats, d: int, t_ns: int) -> None:
        """A call of ``st`` took ``d`` ns of wall time, over its budget, at mission time ``t_ns``."""
        if self._cpu is not None:  # simulated clock: the CPU time decides (module docstring, "Overruns")
            verifying = st.index in self._verify_until
            self._verify_until[st.index] = t_ns + defaults.OVERRUN_VERIFY_NS
            if not verifying:
                st.pending_ns = d  # confirmed (counted) by a CPU-timed call over the budget, or not
                self._stale = True  # its next call is CPU-timed: the table is rebuilt after this frame
            return
        self._count_overrun(st, d, "")

    def _count_overrun(self, st: TaskStats, d: int, kind: str) -> None:
        st.overruns += 1
        self.events.emit("TASK_OVERRUN", WARNING, st.name,
                         f"{st.name} took {d / _NS_PER_US:.1f} us{kind}, budget {st.budget_ns / _NS_PER_US:.1f} us",
                         (d / _NS_PER_US, st.budget_ns / _NS_PER_US))

    def _cpu_timed(self, step, st: TaskStats):
        """``step`` timed on the CPU clock: an overrun counts when its CPU time passes the budget; the check ends
        ``OVERRUN_VERIFY_NS`` after the task's last wall-clock overrun."""
        cpu, until, budget = self._cpu, self._verify_until, st.budget_ns

        def cpu_timed(t_ns: int) -> None:
            c0 = cpu()
            step(t_ns)
            c = cpu() - c0
            if c > budget:
                if st.pending_ns:  # the wall-clock overrun that started the check was the task's own
                    self._count_overrun(st, st.pending_ns, "")
                    st.pending_ns = 0
                self._count_overrun(st, c, " of CPU")
            end = until.get(st.index)
            if end is None or t_ns >= end:  # the check ends: the table is rebuilt after the frame, not in this call
                until.pop(st.index, None)
                self._stale = True
                if st.pending_ns:
                    st.unconfirmed += 1
                    st.pending_ns = 0
        return cpu_timed

    def _task_raised(self, st: TaskStats, exc: Exception) -> None:
        st.errors += 1
        self.failed_mask |= 1 << st.index
        self._rebuild_table()
        self.events.emit("TASK_FAILED", ERROR, st.name, f"{st.name} failed: {type(exc).__name__}: {exc}",
                         (st.index, st.errors))

    def _hook(self, hook, t_ns: int) -> None:
        try:
            hook(t_ns)
        except Exception as exc:
            # The runner's hooks move the truth and the actuators: a silent failure would fake the run.
            self.events.emit("HOOK_FAILED", CRITICAL, SOURCE,
                             f"frame hook failed: {type(exc).__name__}: {exc}")
            raise

    def _hook_n(self, hook, t_ns: int, n: int) -> None:
        try:
            hook(t_ns, n)
        except Exception as exc:
            self.events.emit("HOOK_FAILED", CRITICAL, SOURCE,
                             f"idle-frames hook failed: {type(exc).__name__}: {exc}")
            raise

    def _rebuild_table(self) -> None:
        # In place, so a dispatch loop already iterating a slot's old tuple finishes it unchanged.
        entries = self.schedule.entries
        for slot, members in enumerate(self.schedule.slots):
            self._table[slot] = tuple(
                (self._cpu_timed(entries[i].task.step, self._stats[i]) if i in self._verify_until
                 else entries[i].task.step, self._stats[i], self._stats[i].counts, self._stats[i].budget_ns, i)
                for i in members if not self.failed_mask >> i & 1)
        # _idle_run[s]: consecutive slots from s on (wrapping) with no task, 0 if slot s has one.
        # In place too: a running loop holds the list.
        n = self._n_slots
        busy = [bool(self._table[k]) for k in range(n)]
        runs = [n] * n
        if any(busy):
            for k in range(n):
                run = 0
                while not busy[(k + run) % n]:
                    run += 1
                runs[k] = run
        self._idle_run[:] = runs

    # ------------------------------------------------------------------ control

    def restart(self, name: str) -> None:
        """Call task ``name`` again from the next frame on (clears its failed bit)."""
        i = self.schedule.index(name)
        if self.failed_mask >> i & 1:
            self.failed_mask &= ~(1 << i)
            self._rebuild_table()
            self.events.emit("TASK_RESTARTED", INFO, name, f"{name} restarted", (i, 0.0))

    def failed_tasks(self) -> list[str]:
        """Names of the tasks marked failed, in table order."""
        return [st.name for st in self._stats if self.failed_mask >> st.index & 1]

    def enable_timeline(self, n_worst: int = defaults.TIMELINE_WORST_FRAMES) -> FrameTimeline:
        """Start recording the ``n_worst`` worst frames (slightly slower dispatch); return the recorder."""
        self.timeline = FrameTimeline([e.name for e in self.schedule.entries], n_worst)
        return self.timeline

    def write_timeline(self, path):
        """Write the worst-frame timeline to ``path`` (``.json`` or CSV); RuntimeError if not enabled."""
        if self.timeline is None:
            raise RuntimeError("Executive.write_timeline: the timeline recorder is not enabled")
        return self.timeline.write(path)

    # ------------------------------------------------------------------ reporting

    def cpu_load(self) -> float:
        """Average task CPU time as a fraction of the frames run."""
        if not self.frame_count:
            return 0.0
        return sum(st.total for st in self._stats) / (self.frame_count * self._minor)

    def group_cycles(self) -> dict[str, int]:
        """Group name -> cycles run (slots run in which the group was due)."""
        cycles = dict.fromkeys(self.rate_groups, 0)
        for runs, groups in zip(self._slot_runs, self._slot_groups, strict=True):
            for group in groups:
                cycles[group.name] += runs
        return cycles

    def slot_report(self) -> list[dict]:
        """Per slot with tasks: ``{slot, tasks, budget_us, max_busy_us, runs}``, budgeted against measured."""
        rows = []
        for slot, members in enumerate(self.schedule.slots):
            if members:
                rows.append({"slot": slot, "tasks": [self.schedule.entries[i].name for i in members],
                             "budget_us": self.schedule.slot_budget_us(slot),
                             "max_busy_us": self._slot_max_busy[slot] / _NS_PER_US, "runs": self._slot_runs[slot]})
        return rows

    def summary(self) -> dict:
        """Timing summary of the run so far (JSON-serialisable), for ``summary.json`` and reports."""
        cycles = self.group_cycles()
        groups = {}
        for name, group in self.rate_groups.items():
            group.cycles = cycles[name]
            groups[name] = group.summary()
            # F Prime's RgMaxTime, at frame granularity: the longest frame in which the group ran.
            groups[name]["max_frame_us"] = max(
                (self._slot_max_busy[slot] for slot, gs in enumerate(self._slot_groups) if group in gs),
                default=0) / _NS_PER_US
        worst = sorted(self.slot_report(), key=lambda row: -row["max_busy_us"])[:_WORST_SLOTS_REPORTED]
        return {
            "minor_frame_us": self._minor / _NS_PER_US,
            "frames": self.frame_count,
            "cycle_slips": self.cycle_slips,
            "skipped_slots": self.skipped_slots,
            "frame_overruns": self.frame_overruns,
            "cpu_load_pct": _PCT * self.cpu_load(),
            "failed_mask": self.failed_mask,
            "failed_tasks": self.failed_tasks(),
            "lateness": self.lateness.summary_us(),
            "frame_busy": self.frame_busy.summary_us(),
            "tasks": {st.name: st.summary() for st in self._stats},
            "rate_groups": groups,
            "worst_slots": worst,
            "events": self.events.counters(),
        }

    def exec_status(self) -> dict:
        """Fields of the EXEC_STATUS telemetry packet (``overruns_recent``: since the previous call)."""
        _, p99 = self.lateness.percentiles(50.0, 99.0)
        overruns = sum(st.overruns for st in self._stats)
        recent, self._overruns_reported = overruns - self._overruns_reported, overruns
        return {
            "frame_count": self.frame_count,
            "cycle_slips": self.cycle_slips,
            "skipped_slots": self.skipped_slots,
            "lateness_max_us": self.lateness.max / _NS_PER_US,
            "lateness_p99_us": p99 / _NS_PER_US,
            "cpu_load_pct": _PCT * self.cpu_load(),
            "tasks_failed": self.failed_mask,
            "overruns_recent": min(recent, _U16_MAX),
        }

    def task_timing(self) -> list[dict]:
        """Fields of one EXEC_TASK_TIMING telemetry packet per task, in table order."""
        rows = []
        for st in self._stats:
            s = st.summary()
            rows.append({"task_id": st.index, "task_name": st.name, "calls": s["calls"],
                         "budget_us": s["budget_us"], "p50_us": s["p50_us"], "p99_us": s["p99_us"],
                         "max_us": s["max_us"], "overruns": st.overruns, "errors": st.errors})
        return rows
