"""The event table (telemetry.dictionary.EVENTS): the one place event ids live, and what the flight emits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fsw.executive.events import EventService
from telemetry.dictionary import EVENT_BY_ID, EVENT_BY_NAME, EVENTS, SEVERITIES, EventDef, index_events
from telemetry.docs import dictionary_markdown, xtce_xml

ROOT = Path(__file__).resolve().parents[2]
FSW_FILES = sorted((ROOT / "fsw").rglob("*.py"))
# The one call that passes an event on rather than naming it: App.emit forwards its argument to the service.
FORWARDERS = {("fsw/app.py", "event")}
SEVERITY_NAMES = set(SEVERITIES.values())


def _emit_calls(path: Path):
    """(event node, severity node, line) of every ``<x>.emit(event, severity, ...)`` call in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit" \
                and len(node.args) >= 2:
            yield node.args[0], node.args[1], node.lineno


def _literals(node: ast.expr) -> list[str] | None:
    """The string constants ``node`` can take (a constant or a conditional of constants); None if not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _literals(node.body), _literals(node.orelse)
        return None if a is None or b is None else a + b
    return None


def _emitted() -> list[tuple[str, int, str, list[str] | None, ast.expr]]:
    """(file, line, event name, literal severities or None, severity node) of every event the flight emits."""
    out = []
    for path in FSW_FILES:
        rel = path.relative_to(ROOT).as_posix()
        for event, severity, line in _emit_calls(path):
            if isinstance(event, ast.Name) and (rel, event.id) in FORWARDERS:
                continue
            names = _literals(event)
            assert names is not None, f"{rel}:{line}: emit() must name its event as a string of the event table"
            for name in names:
                out.append((rel, line, name, _literals(severity), severity))
    return out


EMITTED = _emitted()


@pytest.mark.parametrize("rel, line, name", [(r, n, e) for r, n, e, _, _ in EMITTED],
                         ids=[f"{r}:{n}:{e}" for r, n, e, _, _ in EMITTED])
def test_every_event_the_flight_emits_is_in_the_table(rel, line, name):
    assert name in EVENT_BY_NAME, f"{rel}:{line}: event {name!r} is not declared in telemetry.dictionary.EVENTS"


def test_literal_severities_are_ones_the_table_declares_for_the_event():
    wrong = []
    for rel, line, name, severities, node in EMITTED:
        if severities is None and isinstance(node, ast.Name) and node.id in SEVERITY_NAMES:
            severities = [node.id]  # the executive's constants fsw.executive.events.WARNING ...
        for sev in severities or ():
            if name in EVENT_BY_NAME and sev not in EVENT_BY_NAME[name].severities:
                wrong.append(f"{rel}:{line}: {name} emitted as {sev}, declared {EVENT_BY_NAME[name].severities}")
    assert not wrong, "\n".join(wrong)


def test_every_declared_event_is_emitted_somewhere():
    assert {e.name for e in EVENTS} - {name for _, _, name, _, _ in EMITTED} == set()


def test_no_flight_module_numbers_an_event_itself():
    """Event ids live only in the table: no module-level ``EVT_X = 600`` left in the flight software."""
    local = []
    for path in FSW_FILES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith("EVT_")
                                                    for t in node.targets):
                local.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not local, f"event ids declared outside telemetry.dictionary.EVENTS: {local}"


def test_event_ids_and_names_are_unique():
    assert len(EVENT_BY_ID) == len(EVENT_BY_NAME) == len(EVENTS)


def test_event_table_refuses_a_duplicate_id_naming_both_events():
    table = (*EVENTS, EventDef(600, "SECOND_TRIGGER", "INFO", "docking", "x"))
    with pytest.raises(ValueError, match=r"duplicate key 600 \(TRIGGER and SECOND_TRIGGER\)"):
        index_events(table)


def test_event_table_refuses_a_duplicate_name():
    table = (*EVENTS, EventDef(9999, "TRIGGER", "INFO", "docking", "x"))
    with pytest.raises(ValueError, match="duplicate key 'TRIGGER'"):
        index_events(table)


def test_event_declaration_refuses_an_unknown_severity():
    with pytest.raises(ValueError, match="event 'X': unknown severity 'LOUD'"):
        EventDef(1, "X", "LOUD", "docking", "x")


def test_event_service_stamps_the_table_id_of_a_named_event():
    seen = []
    EventService([seen.append]).emit("TRIGGER", "CRITICAL", "docking", "abort")
    assert seen[0].event_id == 600


def test_event_service_refuses_an_event_name_not_in_the_table():
    with pytest.raises(KeyError, match="'NO_SUCH_EVENT' is not in the event table"):
        EventService().emit("NO_SUCH_EVENT", "INFO", "docking", "x")


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_dictionary_markdown_lists_every_event(event):
    assert f"| {event.id} | {event.name} |" in dictionary_markdown()


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_xtce_names_every_event_id(event):
    assert f'<xtce:Enumeration value="{event.id}" label="{event.name}"' in xtce_xml()
