from __future__ import annotations

import pytest


class RecordingEvents:
    """Stands in for the event service: keeps every emitted event."""

    def __init__(self):
        self.emitted = []
        self.issued = 0
        self.throttled = 0

    def emit(self, event_id, severity, source, text, args=(0.0, 0.0)):
        self.issued += 1
        self.emitted.append((event_id, severity, source, text, tuple(args)))

    def reset_counters(self):
        self.issued = self.throttled = 0


@pytest.fixture
def events():
    return RecordingEvents()
