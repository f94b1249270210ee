"""Cyclic executive: schedule table, clocks, timing statistics, overrun policy and events."""

from fsw.executive.clock import SimClock, WallClock, perf_ns
from fsw.executive.events import Event, EventService, make_log_sink
from fsw.executive.executive import Executive
from fsw.executive.schedule import Schedule, ScheduleEntry, ScheduleError, ScheduleTable, load_schedule_table
from fsw.executive.stats import LogHistogram, RateGroupStats, TaskStats
from fsw.executive.timeline import FrameTimeline

__all__ = [
    "Event", "EventService", "Executive", "FrameTimeline", "LogHistogram", "RateGroupStats",
    "Schedule", "ScheduleEntry", "ScheduleError", "ScheduleTable", "SimClock", "TaskStats", "WallClock",
    "load_schedule_table", "make_log_sink", "perf_ns",
]
