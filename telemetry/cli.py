"""``qz tlm``: ground tools on packet archives and the generated dictionary documents.

- ``qz tlm decode FILE [--apid N|NAME] [--csv OUT]``: summary of an archive, or one APID to CSV; the EVENT
  packets are printed one a line, named from the event table (name, severity, source, text, named arguments);
- ``qz tlm dict [--out FILE]``: the packet dictionary as Markdown;
- ``qz tlm xtce [--out FILE]``: the XTCE mission database.

A bad input (missing file, unknown APID) gets one line on stderr naming it and why, exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from telemetry.archive import decode_apid, read_archive, resolve_apid, to_csv
from telemetry.codec import PacketError
from telemetry.dictionary import EVENT_BY_ID, EVENT_SOURCES, SEVERITIES, TM_BY_APID, TM_BY_NAME, event_name
from telemetry.docs import dictionary_markdown, xtce_xml
from telemetry.errors import InputError

EXIT_USAGE = 2          # bad command-line input, as argparse uses
MAX_DAMAGE_LINES = 20   # damage ranges printed in a summary before "... and N more"


class CliError(InputError):
    """A user input problem: reported as one line, exit code 2."""


def _fail(command: str, err: Exception) -> int:
    print(f"qz tlm {command}: error: {err}", file=sys.stderr)
    return EXIT_USAGE


def _parse_apid(text: str) -> str:
    """Packet name of ``--apid`` given as a name, a decimal or a 0x-prefixed number."""
    if text in TM_BY_NAME:
        return text
    try:
        number = int(text, 0)
    except ValueError:
        raise CliError(f"--apid {text!r}: not a packet name nor a number "
                       f"(known: {', '.join(TM_BY_NAME)})") from None
    try:
        return resolve_apid(number)
    except PacketError:
        raise CliError(f"--apid {text!r}: APID {number:#05x} is not a telemetry packet of the dictionary") from None


def _check_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: no such file")
    if not p.is_file():
        raise CliError(f"{path}: not a regular file")
    return p


def _summary(path: Path) -> None:
    report = read_archive(path)
    counts = report.counts()
    print(f"{path}: {report.size} bytes, {len(report.packets)} intact packets, {len(report.damage)} damaged ranges")
    for apid in sorted(counts):
        pkt = TM_BY_APID.get(apid)
        name = pkt.name if pkt else "(not a telemetry packet)"
        print(f"  {apid:#05x} {name:<20} {counts[apid]:>9}")
    for start, end, reason in report.damage[:MAX_DAMAGE_LINES]:
        print(f"  damage: bytes {start}..{end} ({end - start} B): {reason}")
    if len(report.damage) > MAX_DAMAGE_LINES:
        print(f"  ... and {len(report.damage) - MAX_DAMAGE_LINES} more damaged ranges")


def event_line(t_ns: int, event_id: int, severity: int, source_id: int, args, text: bytes) -> str:
    """One EVENT packet as a line: mission time [s], event name and severity, source, text, named arguments."""
    event = EVENT_BY_ID.get(int(event_id))
    named = []
    for arg, value in zip(event.args if event else (), args, strict=False):
        if arg.enum and float(value).is_integer() and int(value) in arg.enum:
            named.append(f"{arg.name}={arg.enum[int(value)]}")
        else:
            named.append(f"{arg.name}={float(value):.6g}" + (f" {arg.unit}" if arg.unit else ""))
    sev = SEVERITIES.get(int(severity), f"severity {int(severity)}")
    source = EVENT_SOURCES.get(int(source_id), f"task {int(source_id)}")
    message = bytes(text).rstrip(b"\0").decode("ascii", "replace")
    return " ".join([f"{t_ns / 1e9:12.3f} {event_name(event_id):<21} {sev:<8} {source:<9} {message!r}", *named])


def _name_events(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """EVENT columns with ``event_name`` after ``event_id`` and ``severity_name`` after ``severity``."""
    out = {}
    for key, col in columns.items():
        out[key] = col
        if key == "event_id":
            out["event_name"] = np.array([event_name(i) for i in col.tolist()], dtype=str)
        elif key == "severity":
            out["severity_name"] = np.array([SEVERITIES.get(s, str(s)) for s in col.tolist()], dtype=str)
    return out


def cmd_decode(args) -> int:
    try:
        path = _check_file(args.file)
        if args.csv and not args.apid:
            raise CliError("--csv needs --apid (one packet kind per CSV)")
        if not args.apid:
            _summary(path)
            return 0
        name = _parse_apid(args.apid)
        columns = decode_apid(path, name)
        n = len(columns["t_ns"])
        if name == "EVENT":
            columns = _name_events(columns)
        if args.csv:
            to_csv(columns, args.csv)
            print(f"{name}: {n} packets written to {args.csv}")
        else:
            span = f", t = {columns['t_ns'][0] / 1e9:.3f} .. {columns['t_ns'][-1] / 1e9:.3f} s" if n else ""
            print(f"{name} (APID {TM_BY_NAME[name].apid:#05x}): {n} packets{span}")
            if name == "EVENT":
                for i in range(n):
                    print(event_line(*(columns[k][i] for k in ("t_ns", "event_id", "severity", "source_id", "args",
                                                                "text"))))
        return 0
    except (CliError, OSError) as err:
        return _fail("decode", err)


def _write_or_print(command: str, text: str, out: str | None) -> int:
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text)
    except OSError as err:
        return _fail(command, err)
    print(f"wrote {out}")
    return 0


def cmd_dict(args) -> int:
    return _write_or_print("dict", dictionary_markdown(), args.out)


def cmd_xtce(args) -> int:
    return _write_or_print("xtce", xtce_xml(), args.out)


def register(subparsers) -> None:
    """Add ``tlm`` and its sub-commands to the ``qz`` parser."""
    tlm = subparsers.add_parser("tlm", help="packet archives, dictionary and XTCE export",
                                description="Ground tools on CCSDS packet archives.")
    sub = tlm.add_subparsers(dest="tlm_command", required=True, metavar="TLM_COMMAND")

    decode = sub.add_parser("decode", help="summarise an archive or decode one APID to CSV")
    decode.add_argument("file", help="archive of framed packets (telemetry.ccsds)")
    decode.add_argument("--apid", help="APID (decimal or 0x..) or packet name to decode")
    decode.add_argument("--csv", metavar="OUT", help="write the decoded APID as CSV to OUT")
    decode.set_defaults(func=cmd_decode)

    d = sub.add_parser("dict", help="write the packet dictionary as Markdown")
    d.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    d.set_defaults(func=cmd_dict)

    x = sub.add_parser("xtce", help="write the XTCE mission database")
    x.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    x.set_defaults(func=cmd_xtce)
