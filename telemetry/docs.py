"""Generated ground documents: the packet dictionary as Markdown and an XTCE mission database.

Both are derived from ``telemetry.dictionary`` (packets, commands, events) and the header declarations,
never hand-written; the
committed copies in ``telemetry/generated/`` are checked for staleness by a test. The XTCE uses only
what space_packet_parser reads (no ArrayParameterType: array elements become parameters ``name_i``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from telemetry.dictionary import COMMANDS, EVENT_BY_ID, EVENT_NAMES, EVENTS, TELEMETRY, EventDef, Field
from telemetry.headers import (
    APID_MAX,
    FUNCTION_CODE_MAX,
    LENGTH_OFFSET,
    TC_HEADER_SIZE,
    TM_HEADER_SIZE,
    TYPE_TC,
    TYPE_TM,
    tc_size,
    tm_size,
)

GENERATED_DIR = Path(__file__).resolve().parent / "generated"
DICTIONARY_MD = GENERATED_DIR / "DICTIONARY.md"
XTCE_XML = GENERATED_DIR / "qingzhou.xtce.xml"
XTCE_NS = "http://www.omg.org/spec/XTCE/20180204"   # XTCE 1.2
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XTCE_XSD = "https://www.omg.org/spec/XTCE/20180204/SpaceSystem.xsd"
SPACE_SYSTEM = "Qingzhou"
ROOT_CONTAINER = "CCSDSPacket"   # space_packet_parser's default root container name

_WIDTH = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "i8": 8, "i16": 16, "i32": 32, "i64": 64,
          "f32": 32, "f64": 64}
_BITS_PER_CHAR = 8  # [bit]


# --- Markdown ---------------------------------------------------------------------------------------
def _field_rows(fields: tuple[Field, ...], first_offset: int, with_range: bool) -> list[str]:
    rows = []
    offset = first_offset
    for f in fields:
        size = f.count * (1 if f.type == "char" else _WIDTH[f.type] // 8)
        kind = f"char[{f.count}]" if f.type == "char" else (f"{f.type}[{f.count}]" if f.count > 1 else f.type)
        desc = f.description
        if f.enum is EVENT_NAMES:
            desc += " (names: [Events](#events))"
        elif f.enum:
            desc += " (" + ", ".join(f"{k} {v}" for k, v in f.enum.items()) + ")"
        cells = [str(offset), f"`{f.name}`", kind, f.unit or "-", desc]
        if with_range:
            cells.insert(4, "-" if f.lo is None and f.hi is None else f"{f.lo} .. {f.hi}")
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        offset += size
    return rows


def _event_row(e: EventDef) -> str:
    severity = e.severity + (f" (or {', '.join(e.also)})" if e.also else "")
    args = ", ".join(f"{i}: `{a.name}`" + (f" [{a.unit}]" if a.unit else "") + (" (code, named)" if a.enum else "")
                     for i, a in enumerate(e.args)) or "-"
    cells = [str(e.id), e.name, severity, e.source, f"`{e.text}`", args]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def dictionary_markdown() -> str:
    """The whole packet dictionary as Markdown (telemetry, device packets, telecommands)."""
    out = [
        "# Qingzhou packet dictionary",
        "",
        "Generated from `telemetry/dictionary.py` by `qz tlm dict`; do not edit.",
        "",
        f"Every packet is a CCSDS space packet: a 6-byte primary header (version 0, type, secondary-header "
        f"flag 1, APID, sequence flags 3, 14-bit sequence count, data length = total length - {LENGTH_OFFSET}). "
        f"Telemetry adds a CUC time (4 B seconds + 2 B 1/65536 s, big-endian): payload offsets start at "
        f"{TM_HEADER_SIZE}. Commands add a function code byte (high bit reserved) and the cFS checksum byte "
        f"(0xFF XOR every byte, computed with the checksum 0): arguments start at {TC_HEADER_SIZE}. "
        "All values are big-endian. On byte streams and in archives each packet is framed as sync marker "
        "0x1ACFFC1D + packet + CRC-16/CCITT-FALSE.",
        "",
        "## Telemetry and device packets",
        "",
        "| APID | name | size [B] | kind | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in TELEMETRY:
        kind = "device" if p.device else "telemetry"
        out.append(f"| {p.apid:#05x} | [{p.name}](#{p.name.lower()}) | {tm_size(p.name)} | {kind} | {p.description} |")
    for p in TELEMETRY:
        out += ["", f"### {p.name}", "",
                f"APID {p.apid:#05x} ({p.apid}), {tm_size(p.name)} bytes. {p.description}.", "",
                "| offset | field | type | unit | description |", "| --- | --- | --- | --- | --- |"]
        out += _field_rows(p.fields, TM_HEADER_SIZE, with_range=False)
    out += ["", "## Telecommands", "",
            "| APID | code | name | size [B] | hazardous | description |",
            "| --- | --- | --- | --- | --- | --- |"]
    for c in COMMANDS:
        out.append(f"| {c.apid:#05x} | {c.function_code} | {c.name} | {tc_size(c.name)} | "
                   f"{'yes' if c.hazardous else 'no'} | {c.description} |")
    for c in COMMANDS:
        if not c.args:
            continue
        out += ["", f"### {c.name}", "",
                f"APID {c.apid:#05x}, function code {c.function_code}, {tc_size(c.name)} bytes. {c.description}.",
                "", "| offset | argument | type | unit | range | description |",
                "| --- | --- | --- | --- | --- | --- |"]
        out += _field_rows(c.args, TC_HEADER_SIZE, with_range=True)
    out += ["", "## Events", "",
            "Each is one EVENT packet (APID "
            f"{next(p.apid for p in TELEMETRY if p.name == 'EVENT'):#05x}): `event_id`, `severity`, `source_id`, "
            "the two numeric `args` (i: name [unit]; a coded one is named by `qz tlm decode`) and the text, whose "
            "pattern is shown (`{...}` a value; the packet keeps 48 characters, events.log all of it).",
            "", "| id | name | severity | emitted by | text | args |", "| --- | --- | --- | --- | --- | --- |"]
    out += [_event_row(e) for e in EVENTS]
    return "\n".join(out) + "\n"


# --- XTCE ----------------------------------------------------------------------------------------------
def _q(tag: str) -> str:
    return f"{{{XTCE_NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, **attrib) -> ET.Element:
    return ET.SubElement(parent, _q(tag), {k: str(v) for k, v in attrib.items()})


def _int_type(types: ET.Element, name: str, bits: int, signed: bool, unit: str = "") -> None:
    t = _sub(types, "IntegerParameterType", name=name, signed=str(signed).lower())
    _units(t, unit)
    _sub(t, "IntegerDataEncoding", sizeInBits=bits, encoding="twosComplement" if signed else "unsigned")


def _units(t: ET.Element, unit: str) -> None:
    if unit:
        _sub(_sub(t, "UnitSet"), "Unit").text = unit


def _event_description(f: Field, value: int) -> dict:
    """An event's severity, emitter and text as its enumeration's shortDescription (EVENT.event_id only)."""
    if f.enum is not EVENT_NAMES:
        return {}
    e = EVENT_BY_ID[value]
    return {"shortDescription": f"{'/'.join(e.severities)} from {e.source}: {e.text}"[:80]}


def _field_type(types: ET.Element, name: str, f: Field) -> None:
    desc = {"shortDescription": f.description[:80]} if f.description else {}
    if f.type == "char":
        t = _sub(types, "StringParameterType", name=name, **desc)
        enc = _sub(t, "StringDataEncoding", encoding="US-ASCII")
        _sub(_sub(_sub(enc, "SizeInBits"), "Fixed"), "FixedValue").text = str(f.count * _BITS_PER_CHAR)
    elif f.enum:
        t = _sub(types, "EnumeratedParameterType", name=name, **desc)
        _units(t, f.unit)
        _sub(t, "IntegerDataEncoding", sizeInBits=_WIDTH[f.type],
             encoding="twosComplement" if f.type.startswith("i") else "unsigned")
        lst = _sub(t, "EnumerationList")
        for value, label in f.enum.items():
            _sub(lst, "Enumeration", value=value, label=label, **_event_description(f, value))
    elif f.type.startswith("f"):
        t = _sub(types, "FloatParameterType", name=name, sizeInBits=_WIDTH[f.type], **desc)
        _units(t, f.unit)
        _sub(t, "FloatDataEncoding", sizeInBits=_WIDTH[f.type], encoding="IEEE754_1985")
    else:
        t = _sub(types, "IntegerParameterType", name=name, signed=str(f.type.startswith("i")).lower(), **desc)
        _units(t, f.unit)
        _sub(t, "IntegerDataEncoding", sizeInBits=_WIDTH[f.type],
             encoding="twosComplement" if f.type.startswith("i") else "unsigned")


def parameter_names(prefix: str, f: Field) -> list[str]:
    """XTCE parameter names of a field: ``PACKET_field``, or ``PACKET_field_i`` per array element."""
    base = f"{prefix}_{f.name}"
    if f.type == "char" or f.count == 1:
        return [base]
    return [f"{base}_{i}" for i in range(f.count)]


# (name, bits, signed, unit, description) of the header parameters, in wire order
_PRIMARY = (
    ("VERSION", 3, "", "CCSDS packet version number"),
    ("TYPE", 1, "", "0 telemetry, 1 telecommand"),
    ("SEC_HDR_FLG", 1, "", "secondary header present"),
    ("PKT_APID", 11, "", "application process identifier"),
    ("SEQ_FLGS", 2, "", "sequence flags, 3 unsegmented"),
    ("SRC_SEQ_CTR", 14, "", "packet sequence count"),
    ("PKT_LEN", 16, "B", "total packet length minus 7"),
)
_TM_SECONDARY = (
    ("CUC_SECONDS", 32, "s", "CUC coarse time since the run epoch"),
    ("CUC_SUBSECONDS", 16, "1/65536 s", "CUC fine time"),
)
_TC_SECONDARY = (
    ("FC_RESERVED", 1, "", "reserved bit"),
    ("FUNCTION_CODE", 7, "", "command function code"),
    ("CHECKSUM", 8, "", "cFS checksum"),
)


def _container(containers: ET.Element, name: str, entries: list[str], base: str | None = None,
               criteria: tuple[tuple[str, int], ...] = (), abstract: bool = False, description: str = "") -> None:
    attrib = {"name": name}
    if abstract:
        attrib["abstract"] = "true"
    if description:
        attrib["shortDescription"] = description[:80]
    c = _sub(containers, "SequenceContainer", **attrib)
    entry_list = _sub(c, "EntryList")
    for e in entries:
        _sub(entry_list, "ParameterRefEntry", parameterRef=e)
    if base:
        b = _sub(c, "BaseContainer", containerRef=base)
        if criteria:
            rc = _sub(b, "RestrictionCriteria")
            if len(criteria) == 1:
                ref, value = criteria[0]
                _sub(rc, "Comparison", parameterRef=ref, value=value, useCalibratedValue="false")
            else:
                lst = _sub(rc, "ComparisonList")
                for ref, value in criteria:
                    _sub(lst, "Comparison", parameterRef=ref, value=value, useCalibratedValue="false")


def xtce_xml() -> str:
    """XTCE 1.2 mission database of every telemetry packet and telecommand (as packet containers)."""
    ET.register_namespace("xtce", XTCE_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(_q("SpaceSystem"), {"name": SPACE_SYSTEM,
                                          f"{{{XSI_NS}}}schemaLocation": f"{XTCE_NS} {XTCE_XSD}"})
    tm = _sub(root, "TelemetryMetaData")
    types = _sub(tm, "ParameterTypeSet")
    params = _sub(tm, "ParameterSet")
    containers = _sub(tm, "ContainerSet")
    seen: set[str] = set()

    def add_param(name: str, type_name: str, description: str = "") -> None:
        if name in seen:
            raise ValueError(f"XTCE export: duplicate parameter name {name!r}")
        seen.add(name)
        attrib = {"name": name, "parameterTypeRef": type_name}
        if description:
            attrib["shortDescription"] = description[:80]
        _sub(params, "Parameter", **attrib)

    for group in (_PRIMARY, _TM_SECONDARY, _TC_SECONDARY):
        for name, bits, unit, desc in group:
            _int_type(types, f"{name}_Type", bits, False, unit)
            add_param(name, f"{name}_Type", desc)

    _container(containers, ROOT_CONTAINER, [n for n, *_ in _PRIMARY], abstract=True,
               description="CCSDS space packet primary header")
    _container(containers, "TMPacket", [n for n, *_ in _TM_SECONDARY], base=ROOT_CONTAINER,
               criteria=(("TYPE", TYPE_TM),), abstract=True, description="telemetry: CUC time")
    _container(containers, "TCPacket", [n for n, *_ in _TC_SECONDARY], base=ROOT_CONTAINER,
               criteria=(("TYPE", TYPE_TC),), abstract=True, description="telecommand: function code, checksum")

    def add_fields(prefix: str, fields) -> list[str]:
        entries = []
        for f in fields:
            type_name = f"{prefix}_{f.name}_Type"
            _field_type(types, type_name, f)
            for pname in parameter_names(prefix, f):
                add_param(pname, type_name, f.description)
                entries.append(pname)
        return entries

    for p in TELEMETRY:
        _container(containers, p.name, add_fields(p.name, p.fields), base="TMPacket",
                   criteria=(("PKT_APID", p.apid),), description=p.description)
    for c in COMMANDS:
        _container(containers, c.name, add_fields(c.name, c.args), base="TCPacket",
                   criteria=(("PKT_APID", c.apid), ("FUNCTION_CODE", c.function_code)), description=c.description)
    if max(p.apid for p in TELEMETRY) > APID_MAX or max(c.function_code for c in COMMANDS) > FUNCTION_CODE_MAX:
        raise ValueError("XTCE export: APID or function code out of range")

    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_generated(directory: Path = GENERATED_DIR) -> list[Path]:
    """Regenerate both committed documents; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in ((directory / DICTIONARY_MD.name, dictionary_markdown()),
                       (directory / XTCE_XML.name, xtce_xml())):
        path.write_text(text)
        written.append(path)
    return written
