"""Event service: severities, throttling of repeats, counters, sinks, the events.log sink."""

import pytest

from fsw.executive import EventService, make_log_sink
from fsw.executive.events import SEVERITY_CODES, severity_code
from telemetry.dictionary import SEVERITIES

S = 1_000_000_000  # [ns]


class Now:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def test_event_reaches_every_sink_with_mission_time():
    now, a, b = Now(), [], []
    events = EventService(sinks=[a.append, b.append], time_source=now)
    now.t = 42 * S
    events.emit(7, "INFO", "modes", "entered HOLD", (6, 3))
    assert a == b and len(a) == 1
    assert a[0].t_ns == 42 * S and a[0].event_id == 7 and a[0].severity_name == "INFO"
    assert a[0].source == "modes" and a[0].text == "entered HOLD" and a[0].args == (6.0, 3.0)


def test_severity_codes_are_the_dictionary_ones():
    assert {code: name for name, code in SEVERITY_CODES.items()} == dict(SEVERITIES)
    assert severity_code("warning") == severity_code(2) == 2


@pytest.mark.parametrize("bad", ["NOTICE", 7])
def test_unknown_severity_is_refused(bad):
    with pytest.raises(ValueError, match="severity"):
        EventService().emit(1, bad, "x", "y")


def test_counters_count_issued_events_by_severity():
    events = EventService()
    events.emit(1, "INFO", "a", "x")
    events.emit(2, "ERROR", "a", "x")
    events.emit(3, "ERROR", "a", "x")
    assert events.issued == 3 and events.by_severity["ERROR"] == 2 and events.by_severity["INFO"] == 1


def test_repeats_beyond_the_limit_are_throttled_and_counted():
    out = []
    events = EventService(sinks=[out.append], time_source=Now(), throttle_after=3, throttle_every=10)
    passed = [events.emit(5, "WARNING", "att", "rate high") for _ in range(12)]
    assert passed == [True] * 3 + [False] * 9
    assert len(out) == 3 and events.throttled == 9 and events.issued == 3


def test_every_mth_repeat_passes_with_its_suppressed_count():
    out = []
    events = EventService(sinks=[out.append], time_source=Now(), throttle_after=3, throttle_every=10)
    for _ in range(13):
        events.emit(5, "WARNING", "att", "rate high")
    assert len(out) == 4 and out[-1].suppressed == 9


def test_throttle_window_restarts_after_its_length():
    now, out = Now(), []
    events = EventService(sinks=[out.append], time_source=now, throttle_after=2, throttle_every=100,
                          throttle_window_ns=10 * S)
    for _ in range(5):
        events.emit(5, "WARNING", "att", "rate high")
    now.t = 10 * S
    assert events.emit(5, "WARNING", "att", "rate high")
    assert len(out) == 3


def test_throttling_is_per_event_id_and_source():
    events = EventService(time_source=Now(), throttle_after=1, throttle_every=100)
    assert events.emit(5, "WARNING", "att", "x")
    assert not events.emit(5, "WARNING", "att", "x")
    assert events.emit(5, "WARNING", "nav", "x")
    assert events.emit(6, "WARNING", "att", "x")


def test_raising_sink_is_counted_and_the_other_sinks_still_get_the_event():
    out = []

    def broken(event):
        raise OSError("disk full")
    events = EventService(sinks=[broken, out.append])
    assert events.emit(1, "INFO", "a", "x")
    assert events.sink_errors == 1 and len(out) == 1


def test_log_sink_writes_one_line_per_event(tmp_path):
    now = Now()
    sink = make_log_sink(tmp_path / "events.log")
    events = EventService(sinks=[sink], time_source=now)
    now.t = 1_500_000_000
    events.emit(1, "INFO", "modes", "entered HOMING")
    events.emit(2, "CRITICAL", "fdir", "CAM fired")
    sink.close()
    lines = (tmp_path / "events.log").read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["1.500", "INFO", "modes", "entered", "HOMING"]
    assert lines[1].split()[1:3] == ["CRITICAL", "fdir"]


def test_log_sink_notes_suppressed_repeats(tmp_path):
    sink = make_log_sink(tmp_path / "events.log")
    events = EventService(sinks=[sink], time_source=Now(), throttle_after=1, throttle_every=3)
    for _ in range(4):
        events.emit(1, "WARNING", "att", "rate high")
    sink.close()
    assert (tmp_path / "events.log").read_text().splitlines()[-1].endswith("[2 similar suppressed]")


def test_suppressed_count_carries_into_the_next_window():
    now, out = Now(), []
    events = EventService(sinks=[out.append], time_source=now, throttle_after=2, throttle_every=100,
                          throttle_window_ns=10 * S)
    for _ in range(5):
        events.emit(200, "WARNING", "commanding", "rejected")
    now.t = 30 * S
    events.emit(200, "WARNING", "commanding", "rejected")
    assert out[-1].suppressed == 3 and sum(e.suppressed for e in out) == events.throttled


def test_ended_window_is_summarised_with_its_count():
    now, out = Now(), []
    events = EventService(sinks=[out.append], time_source=now, throttle_after=1, throttle_every=100,
                          throttle_window_ns=10 * S)
    for i in range(4):
        events.emit(200, "WARNING", "commanding", f"rejected {i}")
    now.t = 5 * S
    assert events.flush_expired(now.t) == 0  # the window is still open
    now.t = 10 * S
    assert events.flush_expired(now.t) == 1
    assert (out[-1].text, out[-1].suppressed, out[-1].t_ns) == ("rejected 3", 3, 10 * S)
    assert events.flush_expired(now.t) == 0  # reported once


def test_end_of_run_flush_reports_every_unreported_suppression():
    out = []
    events = EventService(sinks=[out.append], time_source=Now(), throttle_after=1, throttle_every=100)
    for source in ("nav", "att"):
        for _ in range(3):
            events.emit(7, "WARNING", source, "gate")
    assert events.flush_suppressed() == 2
    assert sum(e.suppressed for e in out) == events.throttled == 4


def test_packet_text_fits_the_dictionary_field_and_keeps_the_count():
    from fsw.executive.events import EVENT_TEXT_MAX, Event, packet_text
    from telemetry.dictionary import TM_BY_NAME

    field = next(f for f in TM_BY_NAME["EVENT"].fields if f.name == "text")
    assert EVENT_TEXT_MAX == field.count
    text = packet_text(Event(0, 1, 1, "x", "y" * 100, suppressed=42))
    assert len(text) == EVENT_TEXT_MAX and text.endswith(b" [+42 suppressed]")
    assert packet_text(Event(0, 1, 1, "x", "short")) == b"short"
