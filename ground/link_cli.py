"""``qz cmd`` (send one telecommand over the live link) and ``qz tlm listen`` (print telemetry as it comes).

``qz cmd --link URL [--key-file F --spi N] NAME [arg=value ...]``: arguments are checked against the
dictionary before anything is sent; a hazardous command is preceded by its ARM; the acknowledgements
are printed (ACCEPTED, COMPLETED, or REJECTED with the reason); exit 0 only on COMPLETED. ``--raw HEX``
sends the packet bytes as given (wrapped when a key is given), ``--at T`` wraps the command in a TIME_TAG.

``qz tlm listen --link URL [--apid NAME] [--csv FILE] [--record FILE]``: one line per packet, enum values
by name; ``--record`` writes an archive in the format of ``telemetry.ccsds``.

Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time

from ground.link import LinkClient, LinkError, Uplink, ack_of, build_command, time_tagged
from telemetry.archive import ArchiveWriter
from telemetry.codec import PacketError, decode_tm, peek_apid
from telemetry.dictionary import ACK_STATUS, CMD_BY_CODE, CMD_BY_NAME, REJECT_REASONS, TM_BY_NAME
from telemetry.headers import peek_ids
from telemetry.sdls import KeyFileError

EXIT_USAGE = 2
ACCEPTED, REJECTED, COMPLETED = 1, 2, 3


def _fail(prog: str, err) -> int:
    print(f"{prog}: error: {' / '.join(str(err).splitlines())}", file=sys.stderr)
    return EXIT_USAGE


# ---------------------------------------------------------------------------------------------------
# qz cmd


def _parse_args(prog: str, items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise LinkError(f"argument {item!r}: expected name=value")
        out[name] = value
    return out


def _wait_ack(client: LinkClient, apid: int, fc: int, seq: int, name: str, timeout_s: float) -> int | None:
    """Print the acknowledgements of one command; its final status (COMPLETED/REJECTED), None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        packets = client.receive(min(left, 0.2))
        if packets is None:
            raise LinkError(f"--link {client.url}: the flight closed the link")
        for p in packets:
            ack = ack_of(p)
            if ack is None or (ack[0], ack[1], ack[2]) != (apid, fc, seq):
                continue
            status = ack[3]
            text = ACK_STATUS.get(status, str(status))
            if status == REJECTED:
                text += f" {REJECT_REASONS.get(ack[4], ack[4])}"
            print(f"{name}: {text}")
            if status in (REJECTED, COMPLETED):
                return status


def _send_and_wait(client, uplink, packet: bytes, label: str, timeout_s: float) -> int | None:
    apid, fc, seq = peek_ids(packet)
    client.send(uplink.wrap(packet))
    return _wait_ack(client, apid, fc, seq, label, timeout_s)


def cmd_send(args) -> int:
    prog = "qz cmd"
    try:
        if args.timeout <= 0:
            raise LinkError(f"--timeout must be > 0 s, got {args.timeout}")
        if (args.raw is None) == (args.name is None):
            raise LinkError("give a command NAME [arg=value ...] or --raw HEX")
        uplink = Uplink(args.key_file, args.spi, args.arsn_file)
        if args.raw is not None:
            if args.args:
                raise LinkError("--raw takes no arguments")
            try:
                packet = bytes.fromhex(args.raw)
            except ValueError:
                raise LinkError(f"--raw {args.raw!r}: not hexadecimal") from None
            if not packet:
                raise LinkError("--raw: empty packet")
            label, hazardous = "raw", False
            cmd = CMD_BY_CODE.get(((packet[0] & 7) << 8 | packet[1], packet[6] & 0x7F)) if len(packet) > 6 else None
            label = cmd.name if cmd is not None else "raw"
        else:
            texts = _parse_args(prog, args.args)
            packet = build_command(args.name, texts, uplink.next_seq())
            label = args.name.upper()
            hazardous = CMD_BY_NAME[label].hazardous
        if args.at is not None:
            packet = time_tagged(packet, args.at, uplink.next_seq())
            label = f"TIME_TAG({label} at {args.at:g} s)"
        client = LinkClient(args.link, args.tm_listen)
    except (LinkError, KeyFileError) as err:
        return _fail(prog, err)
    try:
        if hazardous and args.at is None:
            arm = build_command("ARM", {"target_fc": str(CMD_BY_NAME[label].function_code)}, uplink.next_seq())
            if _send_and_wait(client, uplink, arm, "ARM", args.timeout) != COMPLETED:
                print(f"{label}: not sent (ARM not completed)")
                return 1
            if not uplink.authenticated:  # a plain command's sequence count is time based
                time.sleep(0.11)
            packet = build_command(args.name, _parse_args(prog, args.args), uplink.next_seq())
        status = _send_and_wait(client, uplink, packet, label, args.timeout)
    except (LinkError, KeyFileError) as err:
        return _fail(prog, err)
    finally:
        client.close()
    if status is None:
        print(f"{label}: no acknowledgement within {args.timeout:g} s")
        return 1
    return 0 if status == COMPLETED else 1


# ---------------------------------------------------------------------------------------------------
# qz tlm listen


def _format_value(field, values) -> str:
    if field.type == "char":
        v = values[0]
        return repr(v.decode("ascii", "replace") if isinstance(v, bytes) else v)
    out = []
    for v in values:
        if field.enum is not None:
            out.append(field.enum.get(int(v), str(v)))
        elif isinstance(v, float):
            out.append(f"{v:.6g}")
        else:
            out.append(str(v))
    return out[0] if len(out) == 1 else "[" + ", ".join(out) + "]"


def format_packet(name: str, seq: int, t_ns: int, values) -> str:
    """One line: mission time, packet name, sequence count, then every field (enums by name)."""
    parts, i = [], 0
    for f in TM_BY_NAME[name].fields:
        n = 1 if f.type == "char" else f.count
        parts.append(f"{f.name}={_format_value(f, values[i:i + n])}")
        i += n
    return f"{t_ns / 1e9:10.3f} {name} #{seq} " + " ".join(parts)


def _csv_row(values, fields) -> list:
    row = []
    i = 0
    for f in fields:
        n = 1 if f.type == "char" else f.count
        chunk = values[i:i + n]
        row.extend(v.decode("ascii", "replace") if isinstance(v, bytes) else v for v in chunk)
        i += n
    return row


def cmd_listen(args) -> int:
    prog = "qz tlm listen"
    name = None
    try:
        if args.apid is not None:
            name = args.apid.upper() if args.apid.upper() in TM_BY_NAME else None
            if name is None:
                try:
                    number = int(args.apid, 0)
                except ValueError:
                    number = -1
                name = next((p.name for p in TM_BY_NAME.values() if p.apid == number), None)
            if name is None:
                raise LinkError(f"--apid {args.apid!r}: not a telemetry packet (known: {', '.join(TM_BY_NAME)})")
        if args.csv and name is None:
            raise LinkError("--csv needs --apid (one packet kind per CSV)")
        if args.count is not None and args.count < 1:
            raise LinkError(f"--count must be >= 1, got {args.count}")
        if args.duration is not None and not args.duration > 0:
            raise LinkError(f"--duration must be > 0 s, got {args.duration}")
        # udp://: telemetry datagrams are received on this address (the flight's --tm-dest)
        tm_listen = args.link.split("://", 1)[1] if args.link.lower().startswith("udp://") else None
        client = LinkClient(args.link, tm_listen)
        record = ArchiveWriter(args.record) if args.record else None
        csv_fh = open(args.csv, "w", newline="") if args.csv else None  # noqa: SIM115 - closed below
    except (LinkError, KeyFileError, OSError) as err:
        return _fail(prog, err)
    writer = None
    if csv_fh is not None:
        writer = csv.writer(csv_fh)
        fields = TM_BY_NAME[name].fields
        writer.writerow(["t_s", "seq"] + [f"{f.name}[{k}]" if f.count > 1 and f.type != "char" else f.name
                                           for f in fields for k in range(1 if f.type == "char" else f.count)])
    wanted = TM_BY_NAME[name].apid if name else None
    shown = 0
    end = time.monotonic() + args.duration if args.duration else None
    try:
        while end is None or time.monotonic() < end:
            packets = client.receive(0.2 if end is None else max(0.0, min(0.2, end - time.monotonic())))
            if packets is None:
                print("link closed by the flight", file=sys.stderr)
                break
            for p in packets:
                if record is not None:
                    record.write(p)
                if wanted is not None and peek_apid(p) != wanted:
                    continue
                try:
                    pname, seq, t_ns, values = decode_tm(p)
                except PacketError as err:
                    print(f"undecodable packet (APID {peek_apid(p):#05x}): {err.reason}")
                    continue
                print(format_packet(pname, seq, t_ns, values), flush=False)
                if writer is not None:
                    writer.writerow([t_ns / 1e9, seq, *_csv_row(values, TM_BY_NAME[pname].fields)])
                shown += 1
                if args.count is not None and shown >= args.count:
                    return 0
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()
        client.close()
        if record is not None:
            record.close()
        if csv_fh is not None:
            csv_fh.close()
    return 0


def _tlm_subcommands(sub):
    """The ``qz tlm`` sub-command group (registered by ``telemetry.cli``)."""
    tlm = sub.choices["tlm"]
    return next(a for a in tlm._actions if isinstance(a, argparse._SubParsersAction))


def register(sub) -> None:
    c = sub.add_parser("cmd", help="send one telecommand over the live ground link and print its acknowledgements")
    c.add_argument("--link", required=True, metavar="URL", help="tcp://HOST:PORT, udp://HOST:PORT or a pyserial URL")
    c.add_argument("--key-file", default=None, metavar="F", help="'SPI hex-key' per line: authenticate the command")
    c.add_argument("--spi", type=int, default=None, help="which key of the key file (default: its only one)")
    c.add_argument("--arsn-file", default=None, metavar="S",
                   help="the client's last ARSN per SPI (default: KEY_FILE.ground-arsn)")
    c.add_argument("--tm-listen", default=None, metavar="HOST:PORT",
                   help="udp:// links: where the flight sends telemetry (the acknowledgements)")
    c.add_argument("--raw", default=None, metavar="HEX", help="send these packet bytes as given")
    c.add_argument("--at", type=float, default=None, metavar="T", help="execute at mission time T [s] (TIME_TAG)")
    c.add_argument("--timeout", type=float, default=10.0, help="[s] wait for each acknowledgement")
    c.add_argument("name", nargs="?", default=None, metavar="NAME", help=f"one of {', '.join(CMD_BY_NAME)}")
    c.add_argument("args", nargs="*", metavar="arg=value", help="command arguments (enum values by name)")
    c.set_defaults(func=cmd_send)

    listen = _tlm_subcommands(sub).add_parser("listen", help="print telemetry from the live ground link")
    listen.add_argument("--link", required=True, metavar="URL",
                        help="tcp://HOST:PORT, udp://HOST:PORT (bound here: the flight's --tm-dest) or a pyserial URL")
    listen.add_argument("--apid", default=None, help="only this packet (name, decimal or 0x..)")
    listen.add_argument("--csv", default=None, metavar="FILE", help="also write the --apid packets as CSV")
    listen.add_argument("--record", default=None, metavar="FILE",
                        help="archive every packet received (the format of telemetry.ccsds)")
    listen.add_argument("--count", type=int, default=None, help="stop after N packets shown")
    listen.add_argument("--duration", type=float, default=None, help="[s] stop after this long")
    listen.set_defaults(func=cmd_listen)
