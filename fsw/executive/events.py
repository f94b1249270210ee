"""Event service: severities, throttling of repeats, counters and sinks.

An event is a short record (mission time, id, severity, source, text, two numeric arguments).
The service stamps it with mission time, throttles repeats per ``(event_id, source)`` and hands the
survivors to every sink. A sink that raises is counted and never stops the caller (the executive).

Throttling (as F Prime's throttled events and cFS EVS filters): within a window that starts at the
first occurrence, the first ``throttle_after`` events of a key pass, then only every
``throttle_every``-th; the passed event carries how many were suppressed since the previous one.
No suppressed event is lost without its count: the count carries over into the next window, and
:meth:`EventService.flush_expired` (housekeeping, 1 Hz) and :meth:`EventService.flush_suppressed`
(end of a run) issue a summary event, the last suppressed one with its count, for every key whose
suppressed events no later event reported.

The EVENT packet's text field (``telemetry.dictionary``) bounds what reaches the ground:
:func:`packet_text` cuts a text to it, keeping the suppressed count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import NamedTuple

from fsw.executive import defaults
from telemetry.dictionary import SEVERITIES, TM_BY_NAME, event_id
from telemetry.units import NS_PER_S

SEVERITY_CODES = {name: code for code, name in SEVERITIES.items()}
DEBUG, INFO, WARNING, ERROR, CRITICAL = (SEVERITY_CODES[n] for n in ("DEBUG", "INFO", "WARNING", "ERROR",
                                                                     "CRITICAL"))
_LOGGING_LEVELS = {DEBUG: logging.DEBUG, INFO: logging.INFO, WARNING: logging.WARNING, ERROR: logging.ERROR,
                   CRITICAL: logging.CRITICAL}
#: [B] length of the EVENT packet's text field: the longest text the ground receives
EVENT_TEXT_MAX = next(f.count for f in TM_BY_NAME["EVENT"].fields if f.name == "text")


class Event(NamedTuple):
    """One event as sinks receive it."""

    t_ns: int  # [ns] mission time of emission
    event_id: int
    severity: int  # code of telemetry.dictionary.SEVERITIES
    source: str  # task name, or "executive"
    text: str
    args: tuple[float, float] = (0.0, 0.0)
    suppressed: int = 0  # events of this id and source suppressed since the previous one passed

    @property
    def severity_name(self) -> str:
        """``"DEBUG"`` ... ``"CRITICAL"``."""
        return SEVERITIES[self.severity]


def severity_code(severity: str | int) -> int:
    """Severity code of a name (case-insensitive) or a code; ValueError if unknown."""
    if isinstance(severity, str):
        try:
            return SEVERITY_CODES[severity.upper()]
        except KeyError:
            raise ValueError(f"unknown event severity {severity!r}; expected one of {list(SEVERITY_CODES)}") \
                from None
    if severity in SEVERITIES:
        return int(severity)
    raise ValueError(f"unknown event severity code {severity!r}; expected one of {list(SEVERITIES)}")


class EventService:
    """Issues events to sinks, with throttling and counters.

    Parameters
    ----------
    sinks : iterable of callable
        Each is called with every passed :class:`Event`.
    time_source : callable, optional
        Returns mission time [ns] (the clock's ``now_ns``). Until one is given (the executive binds its
        clock's), events are stamped 0.
    throttle_after, throttle_every, throttle_window_ns : int
        Throttling parameters (module docstring); defaults in :mod:`fsw.executive.defaults`.

    Attributes
    ----------
    issued : int
        Events passed to the sinks.
    throttled : int
        Events suppressed by throttling.
    by_severity : dict
        Severity name -> events passed.
    sink_errors : int
        Sink calls that raised.
    """

    def __init__(self, sinks: Iterable[Callable[[Event], object]] = (),
                 time_source: Callable[[], int] | None = None,
                 throttle_after: int = defaults.EVENT_THROTTLE_AFTER,
                 throttle_every: int = defaults.EVENT_THROTTLE_EVERY,
                 throttle_window_ns: int = defaults.EVENT_THROTTLE_WINDOW_NS):
        if throttle_after < 1 or throttle_every < 1 or throttle_window_ns <= 0:
            raise ValueError("EventService: throttle_after and throttle_every must be >= 1 and "
                             f"throttle_window_ns > 0, got {throttle_after}, {throttle_every}, "
                             f"{throttle_window_ns}")
        self.sinks = list(sinks)
        self.time_source = time_source
        self.throttle_after = throttle_after
        self.throttle_every = throttle_every
        self.throttle_window_ns = throttle_window_ns
        self.issued = 0
        self.throttled = 0
        self.sink_errors = 0
        self.by_severity = {name: 0 for name in SEVERITY_CODES}
        # key -> [window start ns, count, suppressed not yet reported, last suppressed (severity, text, args)]
        self._windows: dict[tuple[int, str], list] = {}

    def add_sink(self, sink: Callable[[Event], object]) -> None:
        """Add a sink; it receives every event passed from now on."""
        self.sinks.append(sink)

    def emit(self, event: str | int, severity: str | int, source: str, text: str,
             args: tuple[float, float] = (0.0, 0.0)) -> bool:
        """Issue one event, named as in ``telemetry.dictionary.EVENTS`` (or by its id); return True if it
        passed the throttle, False if it was suppressed."""
        eid = event_id(event) if isinstance(event, str) else int(event)
        sev = severity_code(severity)
        t_ns = self.time_source() if self.time_source is not None else 0
        key = (eid, source)
        window = self._windows.get(key)
        if window is None or t_ns - window[0] >= self.throttle_window_ns:
            carried = window[2] if window is not None else 0  # reported by this event, which passes
            window = self._windows[key] = [t_ns, 0, carried, None]
        window[1] += 1
        over = window[1] - self.throttle_after
        if over > 0 and over % self.throttle_every:
            window[2] += 1
            window[3] = (sev, text, args)
            self.throttled += 1
            return False
        suppressed, window[2] = window[2], 0
        self._issue(Event(t_ns, eid, sev, source, str(text), (float(args[0]), float(args[1])),
                          suppressed))
        return True

    def _issue(self, event: Event) -> None:
        self.issued += 1
        self.by_severity[SEVERITIES[event.severity]] += 1
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # a broken sink must not stop the flight software
                self.sink_errors += 1

    def flush_expired(self, t_ns: int) -> int:
        """Summarise the suppressed events of every window that ended by ``t_ns``; return how many summaries."""
        expired = [key for key, w in self._windows.items() if t_ns - w[0] >= self.throttle_window_ns]
        return self._flush(expired, t_ns)

    def flush_suppressed(self) -> int:
        """Summarise every suppressed event not yet reported (end of a run); return how many summaries."""
        t_ns = self.time_source() if self.time_source is not None else 0
        return self._flush(list(self._windows), t_ns)

    def _flush(self, keys, t_ns: int) -> int:
        n = 0
        for key in keys:
            window = self._windows.pop(key)
            if window[2] and window[3] is not None:
                sev, text, args = window[3]
                self._issue(Event(t_ns, key[0], sev, key[1], str(text), (float(args[0]), float(args[1])),
                                  window[2]))
                n += 1
        return n

    def reset_counters(self) -> None:
        """Zero the counters (the RESET_COUNTERS command); throttling windows are kept."""
        self.issued = self.throttled = self.sink_errors = 0
        self.by_severity = dict.fromkeys(self.by_severity, 0)

    def counters(self) -> dict:
        """``{issued, throttled, sink_errors, by_severity}`` (JSON-serialisable)."""
        return {"issued": self.issued, "throttled": self.throttled, "sink_errors": self.sink_errors,
                "by_severity": dict(self.by_severity)}


def packet_text(event: Event) -> bytes:
    """The text as the EVENT packet carries it: ASCII, at most EVENT_TEXT_MAX bytes, the suppressed count kept."""
    suffix = f" [+{event.suppressed} suppressed]".encode() if event.suppressed else b""
    return event.text.encode("ascii", "replace")[:EVENT_TEXT_MAX - len(suffix)] + suffix


def format_event(event: Event) -> str:
    """One log line: mission time [s], severity, source, text (and the suppressed count if any)."""
    line = f"{event.t_ns / NS_PER_S:14.3f} {event.severity_name:<8} {event.source:<14} {event.text}"
    if event.suppressed:
        line += f" [{event.suppressed} similar suppressed]"
    return line


class LogSink:
    """Event sink writing one line per event to a text file through :mod:`logging`.

    Parameters
    ----------
    path : str or os.PathLike
        File to write (truncated).
    """

    def __init__(self, path):
        self.path = str(path)
        self._handler = logging.FileHandler(self.path, mode="w", encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        # A private logger per file: no propagation, so the events never reach the root logger's handlers.
        self._logger = logging.getLogger(f"qz.events.{id(self):x}")
        self._logger.propagate = False
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self._handler)

    def __call__(self, event: Event) -> None:
        self._logger.log(_LOGGING_LEVELS[event.severity], format_event(event))

    def close(self) -> None:
        """Flush and close the file."""
        self._logger.removeHandler(self._handler)
        self._handler.close()


def make_log_sink(path) -> LogSink:
    """Sink writing ``events.log``-style lines (mission time s, severity, source, text) to ``path``."""
    return LogSink(path)
