"""Table-driven fault detection, isolation and recovery, after cFS Limit Checker (LC).

Two tables, read from TOML and validated at start-up against the bus records' dtypes:

Watchpoints (``[[watchpoint]]``) compare one field of one bus record with a constant::

    name        identifier used by actionpoint expressions
    message     bus record name (e.g. "NAV_STATE")
    field       field name, with an index for array fields: "valid", "temp_C[2]"
    op          lt gt le ge eq ne   field <op> value
                abs_gt              |field| > value
                stale_s             seconds since the record's t_ns last changed > value (field = "t_ns")
                any_set / any_clear (field & value) != 0 / (field & value) != value (integer fields)
    value       the limit (number; an integer bit mask for any_set / any_clear)
    persistence consecutive evaluations the comparison must hold before the watchpoint is true

Actionpoints (``[[actionpoint]]``) combine watchpoint results into a response::

    name        identifier
    expression  watchpoint names with and / or / not and parentheses ("zone0_cold and not heater0_on")
    response    EVENT | HOLD | RETREAT | CAM | SAFE | MODE:<mode> | SWITCH_UNIT:<HEATER|THERMISTOR>/<zone>
    severity    DEBUG | INFO | WARNING | ERROR | CRITICAL (telemetry.dictionary.SEVERITIES)
    max_fires   responses allowed per enable (0: unlimited); then the actionpoint is passive
    enabled     optional, default true
    text        optional event text (<= 48 ASCII characters, the EVENT packet's text field)

``[[pending_field]]`` entries (message, field, type, count, note) declare fields the tables read
that the packet dictionary does not declare yet; :func:`extend_records` adds them for validation
and benches, and the real bus must provide them before :class:`FdirEngine` accepts the tables.

Recoveries (``[[recovery]]``) turn a HOLD whose cause has cleared into an autonomous, bounded retry::

    name         identifier
    after        the actionpoint whose HOLD this recovers (its response must be HOLD)
    cleared      an expression over watchpoints that says the cause is gone ("not att_err_x and ...")
    persistence  consecutive evaluations ``cleared`` must hold after the HOLD before the retry
    response     RETRY (guidance: retreat to the hold point behind the vehicle and approach again)
    max_retries  retries allowed per run; then the vehicle stays in HOLD for the ground
    severity     of the retry's event; text: optional event text (<= 48 ASCII characters)

When ``after`` fires, its recovery arms (or, with its retries used up, says so in one event and
the vehicle waits for the ground). Armed, ``cleared`` is counted each evaluation; when it has held
``persistence`` times in a row the RETRY response fires, the retry is counted and ``after`` is
re-armed, so a cause that comes back holds the vehicle again.

Semantics (differences from cFS LC noted):
- A watchpoint on a record never written (``seq == 0``) or whose value is nan is false (LC would
  report it STALE); staleness is what ``stale_s`` watchpoints are for. ``stale_s`` ages start at the
  first evaluation, so a record that never arrives goes stale ``value`` seconds after start-up.
- An actionpoint responds on the evaluation where its expression becomes true (a rising edge),
  not on every evaluation while it stays true; LC's consecutive-fail count is the watchpoints'
  persistence here. After ``max_fires`` responses it stays passive until re-enabled.
- Enabling an actionpoint (the FDIR_ENABLE command) re-arms it: its fire budget is restored and a
  condition that is still true responds again at the next evaluation.

Records are 0-d structured arrays updated in place and never reallocated (fsw/messages.py), so
the engine binds the address and type of each watched field once (:func:`bind_field`, keeping the
records referenced) and ``evaluate`` is one ``@njit`` call that loads them (fsw/core/fields.py)
and evaluates both tables.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from fsw.core.fields import TYPE_CODES, gather, load_int64, load_uint32
from fsw.dispatch import bind
from fsw.executive.events import EVENT_TEXT_MAX  # bytes of the EVENT packet's text field (dictionary)
from telemetry.dictionary import MODES, N_HEATER_ZONES, SCALAR_TYPES, SEVERITIES

OPS = ("lt", "gt", "le", "ge", "eq", "ne", "abs_gt", "stale_s", "any_set", "any_clear")
_OP_CODE = {op: i for i, op in enumerate(OPS)}
_OP_STALE = _OP_CODE["stale_s"]
_BIT_OPS = ("any_set", "any_clear")

SIMPLE_RESPONSES = ("EVENT", "HOLD", "RETREAT", "CAM", "SAFE")
# Redundant units FDIR may switch, with the number of zones each has (index after the slash).
SWITCHABLE_DEVICES = {"HEATER": N_HEATER_ZONES, "THERMISTOR": N_HEATER_ZONES}

# RPN codes of expression operators; non-negative codes push a watchpoint's result.
RPN_NOT, RPN_AND, RPN_OR, RPN_END = -1, -2, -3, -9

# Actionpoint states reported by FdirEngine.ap_state (cFS LC: DISABLED / ACTIVE / PASSIVE).
AP_DISABLED, AP_ACTIVE, AP_PASSIVE = 0, 1, 2

# Every bus record begins with these (fsw/messages.py, telemetry.dictionary.record_dtype).
_RECORD_HEADER = [("t_ns", "<i8"), ("seq", "<u4")]

_WP_KEYS = {"name", "message", "field", "op", "value", "persistence"}
_AP_KEYS = {"name", "expression", "response", "severity", "max_fires"}
_AP_OPTIONAL = {"enabled", "text"}
_PENDING_KEYS = {"message", "field", "type", "count", "note"}
_RC_KEYS = {"name", "after", "cleared", "persistence", "response", "max_retries", "severity"}
_RC_OPTIONAL = {"text"}
RECOVERY_RESPONSES = ("RETRY",)
RETRIES_EXHAUSTED_TEXT = "FDIR: retries used up, holding for the ground"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?\Z")
_KEYWORDS = {"and", "or", "not"}


class FdirTableError(ValueError):
    """An FDIR table entry is invalid; the message names the table, the entry and the key."""


@dataclass(frozen=True)
class Watchpoint:
    """One validated watchpoint."""

    name: str
    message: str
    field: str
    element: int | None  # element of an array field, None for a scalar field
    op: str
    value: float
    persistence: int


@dataclass(frozen=True)
class Actionpoint:
    """One validated actionpoint; ``rpn`` is the compiled expression (see ``RPN_*``)."""

    name: str
    expression: str
    rpn: tuple[int, ...]
    response: str
    kind: str  # EVENT, HOLD, RETREAT, CAM, SAFE, MODE or SWITCH_UNIT
    mode: str | None  # target of MODE:<mode>
    device: str | None  # SWITCH_UNIT device
    zone: int | None  # SWITCH_UNIT zone index
    severity: str
    max_fires: int
    enabled: bool
    text: str


@dataclass(frozen=True)
class Recovery:
    """One validated recovery: the retry after actionpoint ``after``'s HOLD once ``cleared`` holds."""

    name: str
    after: str
    cleared: str
    rpn: tuple[int, ...]
    persistence: int
    response: str
    max_retries: int
    severity: str
    text: str


@dataclass(frozen=True)
class PendingField:
    """A field the tables read that telemetry/dictionary.py does not declare yet."""

    message: str
    field: str
    type: str
    count: int
    note: str


@dataclass(frozen=True)
class FdirTables:
    """Validated watchpoint and actionpoint tables; ``source`` names the file in messages."""

    source: str
    watchpoints: tuple[Watchpoint, ...]
    actionpoints: tuple[Actionpoint, ...]
    pending: tuple[PendingField, ...] = ()
    recoveries: tuple[Recovery, ...] = ()


@dataclass(frozen=True)
class Response:
    """A response newly fired by an actionpoint at mission time ``t_ns`` [ns]."""

    actionpoint: str
    index: int  # actionpoint index (the FDIR_ENABLE command's argument)
    kind: str
    mode: str | None
    device: str | None
    zone: int | None
    severity: str
    text: str
    t_ns: int


# --- loading and validation ------------------------------------------------------------------

def _read_doc(source) -> tuple[dict, str]:
    if isinstance(source, Mapping):
        return dict(source), "<fdir tables>"
    path = Path(source)
    with open(path, "rb") as fh:
        return tomllib.load(fh), path.name


def _err(table: str, kind: str, i: int, name, key: str, problem: str) -> FdirTableError:
    label = f" {name!r}" if isinstance(name, str) else ""
    return FdirTableError(f"{table}: [[{kind}]] #{i}{label}: key {key!r}: {problem}")


def _check_keys(table, kind, i, entry, required, optional=frozenset()):
    name = entry.get("name")
    for key in sorted(required - set(entry)):
        raise _err(table, kind, i, name, key, "missing")
    for key in sorted(set(entry) - required - set(optional)):
        raise _err(table, kind, i, name, key, f"unknown key (expected {sorted(required | set(optional))})")


def _pending_from_doc(table: str, doc: dict) -> tuple[PendingField, ...]:
    out = []
    for i, e in enumerate(doc.get("pending_field", [])):
        _check_keys(table, "pending_field", i, e, {"message", "field", "type"}, {"count", "note"})
        if e["type"] not in SCALAR_TYPES:
            raise _err(table, "pending_field", i, None, "type",
                       f"{e['type']!r} is not one of {sorted(SCALAR_TYPES)}")
        out.append(PendingField(e["message"], e["field"], e["type"], int(e.get("count", 1)),
                                str(e.get("note", ""))))
    return tuple(out)


def extend_records(records: Mapping[str, np.dtype], pending) -> dict[str, np.dtype]:
    """Record dtypes with the pending fields added (new records get the t_ns/seq header).

    ``pending`` is a sequence of :class:`PendingField`, a table file path or a parsed table dict.
    A pending field that already exists keeps the record's own definition.
    """
    if not isinstance(pending, tuple | list):
        doc, table = _read_doc(pending)
        pending = _pending_from_doc(table, doc)
    out = dict(records)
    for p in pending:
        base = out.get(p.message, np.dtype(_RECORD_HEADER))
        if p.field in base.names:
            continue
        fields = [(n, base.fields[n][0]) for n in base.names]
        t = np.dtype(SCALAR_TYPES[p.type])
        fields.append((p.field, t, (p.count,)) if p.count > 1 else (p.field, t))
        out[p.message] = np.dtype(fields)
    return out


def _resolve_field(table, i, name, records, message, field_spec, op) -> tuple[str, int | None]:
    """Check message/field against the dtypes; return (field name, element or None)."""
    if message not in records:
        raise _err(table, "watchpoint", i, name, "message",
                   f"unknown message {message!r} (bus records: {sorted(records)})")
    dt = records[message]
    m = _FIELD.match(str(field_spec))
    if not m:
        raise _err(table, "watchpoint", i, name, "field",
                   f"{field_spec!r} is not 'name' or 'name[index]'")
    fname, idx = m.group(1), m.group(2)
    if op == "stale_s" and field_spec != "t_ns":
        raise _err(table, "watchpoint", i, name, "field",
                   "stale_s watches the record's time: use field = 't_ns'")
    if fname not in dt.names:
        raise _err(table, "watchpoint", i, name, "field",
                   f"{fname!r} is not a field of {message} (fields: {list(dt.names)})")
    ft = dt.fields[fname][0]
    size = int(np.prod(ft.shape)) if ft.shape else 1
    base = ft.base if ft.shape else ft
    if base.kind not in "iuf":
        raise _err(table, "watchpoint", i, name, "field",
                   f"{message}.{fname} is {base} and cannot be compared with a number")
    if op in _BIT_OPS and base.kind not in "iu":
        raise _err(table, "watchpoint", i, name, "op",
                   f"{op} needs an integer field, {message}.{fname} is {base}")
    if ft.shape and idx is None:
        raise _err(table, "watchpoint", i, name, "field",
                   f"{message}.{fname} is an array of {size}: give an element, e.g. '{fname}[0]'")
    if not ft.shape and idx is not None:
        raise _err(table, "watchpoint", i, name, "field", f"{message}.{fname} is a scalar: drop '[{idx}]'")
    if idx is not None and int(idx) >= size:
        raise _err(table, "watchpoint", i, name, "field",
                   f"index {idx} is out of range: {message}.{fname} has {size} elements")
    return fname, None if idx is None else int(idx)


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _load_watchpoints(table, doc, records) -> tuple[Watchpoint, ...]:
    out, seen = [], set()
    for i, e in enumerate(doc.get("watchpoint", [])):
        _check_keys(table, "watchpoint", i, e, _WP_KEYS)
        name = e["name"]
        if not isinstance(name, str) or not _IDENT.match(name) or name in _KEYWORDS:
            raise _err(table, "watchpoint", i, name, "name",
                       f"{name!r} is not an identifier (or is and/or/not)")
        if name in seen:
            raise _err(table, "watchpoint", i, name, "name", "duplicate watchpoint name")
        seen.add(name)
        op = e["op"]
        if op not in _OP_CODE:
            raise _err(table, "watchpoint", i, name, "op", f"unknown op {op!r} (expected one of {list(OPS)})")
        value = e["value"]
        if not _number(value) or not math.isfinite(value):
            raise _err(table, "watchpoint", i, name, "value", f"must be a finite number, got {value!r}")
        if op in _BIT_OPS and (not isinstance(value, int) or value < 0):
            raise _err(table, "watchpoint", i, name, "value", f"{op} needs a non-negative integer mask")
        if op == "stale_s" and value <= 0:
            raise _err(table, "watchpoint", i, name, "value", "stale_s needs a positive age in seconds")
        pers = e["persistence"]
        if not isinstance(pers, int) or isinstance(pers, bool) or pers < 1:
            raise _err(table, "watchpoint", i, name, "persistence", f"must be an integer >= 1, got {pers!r}")
        fname, element = _resolve_field(table, i, name, records, e["message"], e["field"], op)
        out.append(Watchpoint(name, e["message"], fname, element, op, float(value), pers))
    return tuple(out)


def parse_expression(text: str, names: Mapping[str, int]) -> tuple[int, ...]:
    """Compile an and/or/not expression over watchpoint names into RPN codes.

    Grammar (``not`` binds tighter than ``and``, ``and`` tighter than ``or``)::

        expr   := term ("or" term)*
        term   := factor ("and" factor)*
        factor := "not" factor | "(" expr ")" | NAME

    Raises ValueError naming the unknown name or the position of a syntax error.
    """
    tokens = [(m.group(0), m.start()) for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*|[()]|\S", text)]
    pos = 0
    out: list[int] = []

    def peek():
        return tokens[pos][0] if pos < len(tokens) else None

    def take(expected=None):
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"unexpected end of expression {text!r}")
        tok, at = tokens[pos]
        if expected is not None and tok != expected:
            raise ValueError(f"expected {expected!r} at column {at} of {text!r}, got {tok!r}")
        pos += 1
        return tok, at

    def factor():
        tok = peek()
        if tok == "not":
            take()
            factor()
            out.append(RPN_NOT)
        elif tok == "(":
            take()
            expr()
            take(")")
        else:
            tok, at = take()
            if not _IDENT.match(tok) or tok in _KEYWORDS:
                raise ValueError(f"unexpected {tok!r} at column {at} of {text!r}")
            if tok not in names:
                raise ValueError(f"unknown watchpoint {tok!r} in {text!r}")
            out.append(names[tok])

    def term():
        factor()
        while peek() == "and":
            take()
            factor()
            out.append(RPN_AND)

    def expr():
        term()
        while peek() == "or":
            take()
            term()
            out.append(RPN_OR)

    expr()
    if pos != len(tokens):
        tok, at = tokens[pos]
        raise ValueError(f"unexpected {tok!r} at column {at} of {text!r}")
    return tuple(out)


def _parse_response(table, i, name, response) -> tuple[str, str | None, str | None, int | None]:
    if not isinstance(response, str):
        raise _err(table, "actionpoint", i, name, "response", f"must be a string, got {response!r}")
    if response in SIMPLE_RESPONSES:
        return response, None, None, None
    kind, _, arg = response.partition(":")
    if kind == "MODE" and arg in MODES.values():
        return "MODE", arg, None, None
    if kind == "SWITCH_UNIT":
        device, _, zone = arg.partition("/")
        if device in SWITCHABLE_DEVICES and zone.isdigit() and int(zone) < SWITCHABLE_DEVICES[device]:
            return "SWITCH_UNIT", None, device, int(zone)
    raise _err(table, "actionpoint", i, name, "response",
               f"unknown response {response!r} (expected one of {list(SIMPLE_RESPONSES)}, "
               f"MODE:<{'|'.join(MODES.values())}>, "
               f"SWITCH_UNIT:<{'|'.join(SWITCHABLE_DEVICES)}>/<zone 0..{N_HEATER_ZONES - 1}>)")


def _load_actionpoints(table, doc, wp_index) -> tuple[Actionpoint, ...]:
    out, seen = [], set()
    for i, e in enumerate(doc.get("actionpoint", [])):
        _check_keys(table, "actionpoint", i, e, _AP_KEYS, _AP_OPTIONAL)
        name = e["name"]
        if not isinstance(name, str) or not _IDENT.match(name):
            raise _err(table, "actionpoint", i, name, "name", f"{name!r} is not an identifier")
        if name in seen:
            raise _err(table, "actionpoint", i, name, "name", "duplicate actionpoint name")
        seen.add(name)
        try:
            rpn = parse_expression(str(e["expression"]), wp_index)
        except ValueError as exc:
            raise _err(table, "actionpoint", i, name, "expression", str(exc)) from None
        kind, mode, device, zone = _parse_response(table, i, name, e["response"])
        sev = e["severity"]
        if sev not in SEVERITIES.values():
            raise _err(table, "actionpoint", i, name, "severity",
                       f"unknown severity {sev!r} (expected one of {list(SEVERITIES.values())})")
        mf = e["max_fires"]
        if not isinstance(mf, int) or isinstance(mf, bool) or mf < 0:
            raise _err(table, "actionpoint", i, name, "max_fires", f"must be an integer >= 0, got {mf!r}")
        enabled = e.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _err(table, "actionpoint", i, name, "enabled", f"must be true or false, got {enabled!r}")
        text = e.get("text", name)
        if not isinstance(text, str) or not text.isascii() or len(text) > EVENT_TEXT_MAX:
            raise _err(table, "actionpoint", i, name, "text",
                       f"must be ASCII of at most {EVENT_TEXT_MAX} characters, got {text!r}")
        out.append(Actionpoint(name, str(e["expression"]), rpn, e["response"], kind, mode, device, zone,
                               sev, mf, enabled, text))
    return tuple(out)


def _load_recoveries(table, doc, wp_index, aps) -> tuple[Recovery, ...]:
    out, seen, after_seen = [], set(), set()
    by_name = {a.name: a for a in aps}
    for i, e in enumerate(doc.get("recovery", [])):
        _check_keys(table, "recovery", i, e, _RC_KEYS, _RC_OPTIONAL)
        name = e["name"]
        if not isinstance(name, str) or not _IDENT.match(name):
            raise _err(table, "recovery", i, name, "name", f"{name!r} is not an identifier")
        if name in seen or name in by_name:
            raise _err(table, "recovery", i, name, "name", "duplicate name (recoveries and actionpoints share names)")
        seen.add(name)
        after = e["after"]
        if after not in by_name:
            raise _err(table, "recovery", i, name, "after", f"unknown actionpoint {after!r}")
        if by_name[after].kind != "HOLD":
            raise _err(table, "recovery", i, name, "after",
                       f"actionpoint {after!r} responds {by_name[after].response!r}: only a HOLD is recovered")
        if after in after_seen:
            raise _err(table, "recovery", i, name, "after", f"actionpoint {after!r} already has a recovery")
        after_seen.add(after)
        try:
            rpn = parse_expression(str(e["cleared"]), wp_index)
        except ValueError as exc:
            raise _err(table, "recovery", i, name, "cleared", str(exc)) from None
        pers = e["persistence"]
        if not isinstance(pers, int) or isinstance(pers, bool) or pers < 1:
            raise _err(table, "recovery", i, name, "persistence", f"must be an integer >= 1, got {pers!r}")
        if e["response"] not in RECOVERY_RESPONSES:
            raise _err(table, "recovery", i, name, "response",
                       f"unknown response {e['response']!r} (expected one of {list(RECOVERY_RESPONSES)})")
        mr = e["max_retries"]
        if not isinstance(mr, int) or isinstance(mr, bool) or mr < 0:
            raise _err(table, "recovery", i, name, "max_retries", f"must be an integer >= 0, got {mr!r}")
        sev = e["severity"]
        if sev not in SEVERITIES.values():
            raise _err(table, "recovery", i, name, "severity",
                       f"unknown severity {sev!r} (expected one of {list(SEVERITIES.values())})")
        text = e.get("text", name)
        if not isinstance(text, str) or not text.isascii() or len(text) > EVENT_TEXT_MAX:
            raise _err(table, "recovery", i, name, "text",
                       f"must be ASCII of at most {EVENT_TEXT_MAX} characters, got {text!r}")
        out.append(Recovery(name, after, str(e["cleared"]), rpn, pers, e["response"], mr, sev, text))
    return tuple(out)


def load_tables(source, records: Mapping[str, np.dtype], *, include_pending: bool = False) -> FdirTables:
    """Read and validate FDIR tables.

    Parameters
    ----------
    source : path or mapping
        A TOML file (fsw/config/fdir.toml) or an already parsed table dict.
    records : mapping of str to numpy.dtype
        The bus records available to watchpoints and their dtypes.
    include_pending : bool
        Add the tables' ``[[pending_field]]`` declarations to ``records`` before checking
        (validation and benches before those fields exist; never for flight).

    Raises
    ------
    FdirTableError
        Naming the table file, the entry (kind, index, name) and the offending key.
    """
    doc, table = _read_doc(source)
    for key in sorted(set(doc) - {"watchpoint", "actionpoint", "pending_field", "recovery"}):
        raise FdirTableError(f"{table}: unknown table [{key}] (expected [[watchpoint]], [[actionpoint]], "
                             f"[[recovery]], [[pending_field]])")
    pending = _pending_from_doc(table, doc)
    if include_pending:
        records = extend_records(records, pending)
    wps = _load_watchpoints(table, doc, records)
    wp_index = {w.name: i for i, w in enumerate(wps)}
    aps = _load_actionpoints(table, doc, wp_index)
    return FdirTables(table, wps, aps, pending, _load_recoveries(table, doc, wp_index, aps))


# --- evaluation kernel -----------------------------------------------------------------------

@njit(cache=True)
def _evaluate_kernel(msg_tns_addr, msg_seq_addr, msg_t_ns, msg_seq, last_t_ns, changed_at_ns,
                     wp_addr, wp_code, values, wp_msg, wp_op, wp_value, wp_persistence,
                     wp_consecutive, wp_true_count, wp_result,
                     rpn, ap_enabled, ap_max_fires, ap_fires_left_used, ap_fire_count,
                     ap_true_count, ap_prev, ap_result, fired, stack, now_ns):
    """One evaluation of every watchpoint and actionpoint; returns the number of responses.

    Watchpoint state: ``wp_consecutive`` (evaluations in a row the comparison held),
    ``wp_true_count`` (evaluations it held in total), ``wp_result`` (persistence reached).
    Actionpoint state: ``ap_prev`` (last result, for edges), ``ap_fires_left_used`` (responses
    since last enabled), ``ap_fire_count`` (total), ``ap_true_count``; ``fired`` is the output.
    The watched fields and each message's ``t_ns`` / ``seq`` are loaded from their bound
    addresses (fsw/core/fields.py) into ``values``, ``msg_t_ns`` and ``msg_seq`` first.
    """
    for m in range(msg_t_ns.shape[0]):
        msg_t_ns[m] = load_int64(msg_tns_addr[m])
        msg_seq[m] = load_uint32(msg_seq_addr[m])
    gather(wp_addr, wp_code, values)
    for m in range(msg_t_ns.shape[0]):
        if changed_at_ns[m] < 0 or msg_t_ns[m] != last_t_ns[m]:
            last_t_ns[m] = msg_t_ns[m]
            changed_at_ns[m] = now_ns

    for w in range(values.shape[0]):
        m = wp_msg[w]
        op = wp_op[w]
        x = values[w]
        v = wp_value[w]
        raw = False
        if op == 7:  # stale_s
            raw = (now_ns - changed_at_ns[m]) * 1e-9 > v
        elif msg_seq[m] != 0 and not math.isnan(x):
            if op == 0:
                raw = x < v
            elif op == 1:
                raw = x > v
            elif op == 2:
                raw = x <= v
            elif op == 3:
                raw = x >= v
            elif op == 4:
                raw = x == v
            elif op == 5:
                raw = x != v
            elif op == 6:
                raw = abs(x) > v
            elif op == 8:
                raw = (np.int64(x) & np.int64(v)) != 0
            elif op == 9:
                raw = (np.int64(x) & np.int64(v)) != np.int64(v)
        if raw:
            wp_consecutive[w] += 1
            wp_true_count[w] += 1
        else:
            wp_consecutive[w] = 0
        wp_result[w] = wp_consecutive[w] >= wp_persistence[w]

    n_fired = 0
    for a in range(rpn.shape[0]):
        sp = 0
        for j in range(rpn.shape[1]):
            c = rpn[a, j]
            if c == -9:
                break
            if c >= 0:
                stack[sp] = wp_result[c]
                sp += 1
            elif c == -1:
                stack[sp - 1] = not stack[sp - 1]
            elif c == -2:
                sp -= 1
                stack[sp - 1] = stack[sp - 1] and stack[sp]
            else:
                sp -= 1
                stack[sp - 1] = stack[sp - 1] or stack[sp]
        r = stack[0]
        ap_result[a] = r
        fired[a] = False
        if r:
            ap_true_count[a] += 1
            if ap_enabled[a] and not ap_prev[a] and (
                    ap_max_fires[a] == 0 or ap_fires_left_used[a] < ap_max_fires[a]):
                ap_fires_left_used[a] += 1
                ap_fire_count[a] += 1
                fired[a] = True
                n_fired += 1
        ap_prev[a] = r
    return n_fired


# --- the engine ------------------------------------------------------------------------------

class FdirEngine:
    """Evaluates FDIR tables over bus records; one ``evaluate`` per FDIR step (10 Hz).

    Parameters
    ----------
    tables : FdirTables, path or mapping
        Validated tables, or a source for :func:`load_tables` (checked against ``bus``).
    bus : mapping of str to numpy.ndarray
        Bus records (0-d structured arrays updated in place) by name.
    time_source : callable returning int
        [ns] mission time, used when ``evaluate`` is called without ``t_ns``.

    Raises
    ------
    FdirTableError
        When a watched record is not on ``bus`` or its dtype lacks the field.
    """

    def __init__(self, tables, bus: Mapping[str, np.ndarray], time_source: Callable[[], int]):
        records = {name: rec.dtype for name, rec in bus.items()}
        if not isinstance(tables, FdirTables):
            tables = load_tables(tables, records)
        else:  # validated against some dtypes; re-check against this bus's records
            for i, w in enumerate(tables.watchpoints):
                spec = w.field if w.element is None else f"{w.field}[{w.element}]"
                _resolve_field(tables.source, i, w.name, records, w.message, spec, w.op)
        self.tables = tables
        self._time_source = time_source
        wps, aps = tables.watchpoints, tables.actionpoints
        self.wp_names = tuple(w.name for w in wps)
        self.ap_names = tuple(a.name for a in aps)
        self._ap_index = {a.name: i for i, a in enumerate(aps)}

        msgs = sorted({w.message for w in wps})
        msg_idx = {m: i for i, m in enumerate(msgs)}
        # The kernel loads the watched fields from their addresses: keep every record referenced,
        # so the addresses stay valid for the engine's lifetime (records are never reallocated).
        self._msg_recs = [bus[m] for m in msgs]
        bound = [bind_field(bus[w.message], w.field, w.element or 0, f"{tables.source}: watchpoint {w.name!r}")
                 for w in wps]
        self._wp_addr = np.array([a for a, _ in bound], np.int64)
        self._wp_code = np.array([c for _, c in bound], np.int64)
        recs = list(zip(self._msg_recs, msgs, strict=True))
        self._msg_tns_addr = np.array([bind_field(r, "t_ns", 0, m)[0] for r, m in recs], np.int64)
        self._msg_seq_addr = np.array([bind_field(r, "seq", 0, m)[0] for r, m in recs], np.int64)

        nw, na, nm = len(wps), len(aps), len(msgs)
        self._msg_t_ns = np.zeros(nm, np.int64)
        self._msg_seq = np.zeros(nm, np.int64)
        self._last_t_ns = np.zeros(nm, np.int64)
        self._changed_at_ns = np.full(nm, -1, np.int64)
        self._values = np.zeros(nw)
        self._wp_msg = np.array([msg_idx[w.message] for w in wps], np.int64)
        self._wp_op = np.array([_OP_CODE[w.op] for w in wps], np.int64)
        self._wp_value = np.array([w.value for w in wps], np.float64)
        self._wp_persistence = np.array([w.persistence for w in wps], np.int64)
        self.wp_consecutive = np.zeros(nw, np.int64)
        self.wp_true_count = np.zeros(nw, np.int64)
        self.wp_result = np.zeros(nw, np.bool_)

        width = max((len(a.rpn) for a in aps), default=0) + 1
        self._rpn = np.full((na, width), RPN_END, np.int64)
        for i, a in enumerate(aps):
            self._rpn[i, :len(a.rpn)] = a.rpn
        self.ap_enabled = np.array([a.enabled for a in aps], np.bool_)
        self._ap_max_fires = np.array([a.max_fires for a in aps], np.int64)
        self._ap_fires_since_enable = np.zeros(na, np.int64)
        self.ap_fire_count = np.zeros(na, np.int64)
        self.ap_true_count = np.zeros(na, np.int64)
        self._ap_prev = np.zeros(na, np.bool_)
        self.ap_result = np.zeros(na, np.bool_)
        self._fired = np.zeros(na, np.bool_)
        self._stack = np.zeros(width, np.bool_)
        self._responses = [Response(a.name, i, a.kind, a.mode, a.device, a.zone, a.severity, a.text, 0)
                           for i, a in enumerate(aps)]
        self.evaluations = 0
        # recoveries (rare: Python, only while one is armed)
        self.recoveries = tables.recoveries
        self._rc_after = {self._ap_index[r.after]: k for k, r in enumerate(self.recoveries)}
        self.rc_armed = [False] * len(self.recoveries)
        self.rc_consecutive = [0] * len(self.recoveries)
        self.rc_retries = [0] * len(self.recoveries)
        self._args = (self._msg_tns_addr, self._msg_seq_addr, self._msg_t_ns, self._msg_seq, self._last_t_ns,
                      self._changed_at_ns, self._wp_addr, self._wp_code, self._values, self._wp_msg, self._wp_op,
                      self._wp_value, self._wp_persistence, self.wp_consecutive, self.wp_true_count, self.wp_result,
                      self._rpn, self.ap_enabled, self._ap_max_fires, self._ap_fires_since_enable,
                      self.ap_fire_count, self.ap_true_count, self._ap_prev, self.ap_result, self._fired,
                      self._stack)
        # the tables are arrays sized by the table file (one entry per watchpoint / actionpoint), bound once
        self._kernel = bind(_evaluate_kernel, *self._args, sample=(0,))

    def evaluate(self, t_ns: int | None = None) -> list[Response]:
        """Evaluate every watchpoint and actionpoint; return the responses fired at this step."""
        now = self._time_source() if t_ns is None else t_ns
        self.evaluations += 1
        n = self._kernel(int(now))
        out = [] if n == 0 else [_with_time(self._responses[i], now) for i in np.flatnonzero(self._fired)]
        if self._rc_after:
            out = self._recover(out, int(now))
        return out

    def _recover(self, fired: list[Response], now: int) -> list[Response]:
        """Arm the recoveries of the HOLDs just fired; fire the armed ones whose cause has cleared."""
        out = list(fired)
        na = len(self.ap_names)
        for r in fired:
            k = self._rc_after.get(r.index)
            if k is None:
                continue
            rc = self.recoveries[k]
            if self.rc_retries[k] < rc.max_retries:
                self.rc_armed[k], self.rc_consecutive[k] = True, 0
            else:
                self.rc_armed[k] = False
                out.append(Response(rc.name, na + k, "EVENT", None, None, None, "ERROR", RETRIES_EXHAUSTED_TEXT, now))
        for k, rc in enumerate(self.recoveries):
            if not self.rc_armed[k] or any(r.index == self._ap_index[rc.after] for r in fired):
                continue
            self.rc_consecutive[k] = self.rc_consecutive[k] + 1 if _eval_rpn(rc.rpn, self.wp_result) else 0
            if self.rc_consecutive[k] >= rc.persistence:
                self.rc_armed[k] = False
                self.rc_retries[k] += 1
                self.set_enabled(rc.after, True)  # a cause that comes back holds the vehicle again
                out.append(Response(rc.name, na + k, rc.response, None, None, None, rc.severity, rc.text, now))
        return out

    def index_of(self, actionpoint: str) -> int:
        """Index of an actionpoint by name (KeyError if unknown)."""
        return self._ap_index[actionpoint]

    def set_enabled(self, actionpoint: int | str, enabled: bool) -> None:
        """Enable (and re-arm) or disable one actionpoint (the FDIR_ENABLE command).

        Raises IndexError / KeyError for an unknown actionpoint, so the command can be rejected.
        """
        i = self._ap_index[actionpoint] if isinstance(actionpoint, str) else int(actionpoint)
        if not 0 <= i < len(self.ap_names):
            raise IndexError(f"FDIR actionpoint index {i} out of range 0..{len(self.ap_names) - 1}")
        self.ap_enabled[i] = bool(enabled)
        if enabled:
            self._ap_fires_since_enable[i] = 0
            self._ap_prev[i] = False

    def ap_state(self, actionpoint: int | str) -> int:
        """AP_DISABLED, AP_ACTIVE, or AP_PASSIVE (its fire budget spent since last enabled)."""
        i = self._ap_index[actionpoint] if isinstance(actionpoint, str) else int(actionpoint)
        if not self.ap_enabled[i]:
            return AP_DISABLED
        mf = self._ap_max_fires[i]
        return AP_PASSIVE if mf and self._ap_fires_since_enable[i] >= mf else AP_ACTIVE

    def reset_counters(self) -> None:
        """Zero the true and fire counters (telemetry); persistence and fire budgets are kept."""
        self.wp_true_count[:] = 0
        self.ap_true_count[:] = 0
        self.ap_fire_count[:] = 0


def _eval_rpn(rpn: tuple[int, ...], wp_result: np.ndarray) -> bool:
    """An expression compiled by :func:`parse_expression`, on the watchpoints' current results."""
    stack: list[bool] = []
    for c in rpn:
        if c >= 0:
            stack.append(bool(wp_result[c]))
        elif c == RPN_NOT:
            stack[-1] = not stack[-1]
        else:
            b = stack.pop()
            stack[-1] = (stack[-1] and b) if c == RPN_AND else (stack[-1] or b)
    return stack[0]


def bind_field(rec: np.ndarray, field: str, element: int, where: str) -> tuple[int, int]:
    """(address, fsw.core.fields type code) of ``rec[field]`` element ``element``.

    ``rec`` is a bus record (a structured array updated in place); the caller keeps it referenced.
    """
    base = rec.dtype.fields[field][0]
    base = base.base if base.shape else base
    code = TYPE_CODES.get(base.str)
    size = int(np.prod(rec.dtype.fields[field][0].shape or (1,)))
    if code is None or not rec.flags.c_contiguous or not 0 <= element < size:
        raise FdirTableError(f"{where}: cannot bind {field}[{element}] of a {base} field "
                             f"(little-endian numeric scalars in a contiguous record only)")
    return rec.ctypes.data + rec.dtype.fields[field][1] + element * base.itemsize, code


def _with_time(r: Response, t_ns: int) -> Response:
    return Response(r.actionpoint, r.index, r.kind, r.mode, r.device, r.zone, r.severity, r.text, int(t_ns))
