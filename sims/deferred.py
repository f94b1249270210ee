"""Sinks that hold what a flight software emits until its run folder exists.

A runner builds the flight software (and opens its ports) before it creates the run folder, so that
a refusal at start-up (bad configuration, a port that cannot be opened, a silent peer) leaves no
folder behind and moves no previous run aside. What the flight emits meanwhile (start-up events and
packets) is held by a :class:`DeferredSink` and handed over when the folder's files open.
"""

from __future__ import annotations


class DeferredSink:
    """Callable sink: holds items until :meth:`attach`, then passes them, and every later one, to its target."""

    def __init__(self):
        self._held: list = []
        self._target = self._held.append

    def __call__(self, item) -> None:
        self._target(item)

    def attach(self, target) -> None:
        """Hand the held items to ``target`` in order; from now on every item goes straight to it."""
        for item in self._held:
            target(item)
        self._held.clear()
        self._target = target


def attach(flight, packets: DeferredSink, packet_sink, events: DeferredSink, event_sink) -> None:
    """Point a flight built on deferred sinks at the run folder's archive and event log.

    Where the flight holds a deferred sink directly (its downlink, its event sinks) it is replaced by
    the target, so the per-packet path costs no extra call.
    """
    packets.attach(packet_sink)
    events.attach(event_sink)
    if flight.downlink.sink is packets:
        flight.downlink.sink = packet_sink
    flight.events.sinks = [event_sink if s is events else s for s in flight.events.sinks]
