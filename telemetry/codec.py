"""Fast packet codecs derived from the construct declarations of ``telemetry.headers``.

The flight loop cannot afford construct's ~50 us per packet, so each packet gets a codec
precompiled once from the same dictionary fields and wire-type table: one ``struct.Struct`` for
the whole packet (headers + payload), header words computed once, no per-call dict building.
``tests/telemetry/test_codec_agreement.py`` proves these codecs and construct agree byte for byte
and refuse the same out-of-range values.

Telemetry: ``tm_codec(name)`` -> ``TmCodec`` (pack / pack_record / unpack / unpack_into).
Telecommands: ``tc_codec(name).pack(seq_count, **args)`` and ``parse_command(buf)``.
Bulk decoding: ``packet_dtype(name)`` is the numpy dtype of a whole packet.
Every failure is a ``PacketError`` naming packet, field and a reason of
``telemetry.dictionary.REJECT_REASONS``.
"""

from __future__ import annotations

import math
import struct
from functools import cache
from typing import NamedTuple

import numpy as np
from construct import ConstructError

from telemetry.dictionary import CMD_BY_CODE, CMD_BY_NAME, REJECT_REASONS, TM_BY_APID, TM_BY_NAME, record_dtype
from telemetry.headers import (
    APID_MASK,
    APID_MAX,
    CCSDS_VERSION,
    CHAR_ENCODING,
    CHECKSUM_OFFSET,
    CHECKSUM_SEED,
    CUC_COARSE_MAX,
    CUC_FINE_PER_S,
    FUNCTION_CODE_MAX,
    LENGTH_OFFSET,
    NS_PER_S,
    PRIMARY_HEADER_SIZE,
    SEC_HDR_SHIFT,
    SEQ_COUNT_MASK,
    SEQ_COUNT_MOD,
    SEQ_FLAGS_SHIFT,
    SEQ_FLAGS_UNSEGMENTED,
    TC_HEADER_SIZE,
    TYPE_SHIFT,
    TYPE_TC,
    TYPE_TM,
    VERSION_SHIFT,
    checksum_valid,
    field_format,
    peek_apid,
    primary_words,
    tc_size,
    tc_struct,
    tm_size,
    tm_struct,
    xor_bytes,
)

REASON_CODES = {name: code for code, name in REJECT_REASONS.items()}

# header words as the fast path sees them: three big-endian u16 of the primary header
_SEQ_FLAGS_BITS = SEQ_FLAGS_UNSEGMENTED << SEQ_FLAGS_SHIFT
_SEQ_MASK = SEQ_COUNT_MASK
_PRIMARY = struct.Struct(">HHH")
_TM_HEADERS = ">HHHIH"          # primary words + CUC seconds + CUC subseconds
_TC_HEADERS = ">HHHBB"          # primary words + function code + checksum
_STRUCT_ERRORS = (struct.error, OverflowError, TypeError, ValueError)


class PacketError(Exception):
    """A packet that cannot be built or accepted.

    Attributes
    ----------
    packet : str
        Packet or command name, ``'?'`` when not identified yet.
    field : str
        Offending field (``'length'``, ``'checksum'``, ``'apid'``, an argument name ...).
    reason : str
        One of ``telemetry.dictionary.REJECT_REASONS`` (``BAD_CHECKSUM``, ``ARG_OUT_OF_RANGE`` ...).
    reason_code : int
        The numeric code of ``reason`` (what a CMD_ACK carries).
    """

    def __init__(self, packet: str, field: str, reason: str, detail: str = ""):
        if reason not in REASON_CODES:
            raise ValueError(f"PacketError: unknown reason {reason!r}")
        self.packet = packet
        self.field = field
        self.reason = reason
        self.reason_code = REASON_CODES[reason]
        super().__init__(f"packet {packet}: field {field}: {reason}" + (f": {detail}" if detail else ""))


# --- primary header helpers (routers) -------------------------------------------------------------
class PrimaryHeaderFields(NamedTuple):
    """Decoded CCSDS primary header."""

    version: int
    packet_type: int
    sec_hdr_flag: int
    apid: int
    seq_flags: int
    seq_count: int
    data_length: int

    @property
    def total_length(self) -> int:
        """[B] whole packet length the header announces."""
        return self.data_length + LENGTH_OFFSET


def read_primary_header(buf) -> PrimaryHeaderFields:
    """Decode the 6-byte primary header of ``buf``; PacketError MALFORMED when too short."""
    if len(buf) < PRIMARY_HEADER_SIZE:
        raise PacketError("?", "primary_header", "MALFORMED", f"{len(buf)} bytes, need {PRIMARY_HEADER_SIZE}")
    w0, w1, w2 = _PRIMARY.unpack_from(buf)
    return PrimaryHeaderFields(w0 >> VERSION_SHIFT, (w0 >> TYPE_SHIFT) & 1, (w0 >> SEC_HDR_SHIFT) & 1, w0 & APID_MASK,
                               w1 >> SEQ_FLAGS_SHIFT, w1 & SEQ_COUNT_MASK, w2)


def _word0(packet_type: int, apid: int) -> int:
    return primary_words(packet_type, apid, 0, LENGTH_OFFSET)[0]


def _check_header(name: str, buf, word0: int, size: int) -> None:
    """Explain why ``buf`` is not a packet of kind ``name`` (header words ``word0``, ``size`` bytes)."""
    if len(buf) < PRIMARY_HEADER_SIZE:
        raise PacketError(name, "length", "BAD_LENGTH", f"{len(buf)} bytes, expected {size}")
    h = read_primary_header(buf)
    if h.version != CCSDS_VERSION:
        raise PacketError(name, "version", "MALFORMED", f"version {h.version}, expected {CCSDS_VERSION}")
    if h.packet_type != (word0 >> 12) & 1:
        raise PacketError(name, "type", "MALFORMED", f"type bit {h.packet_type}")
    if not h.sec_hdr_flag:
        raise PacketError(name, "sec_hdr_flag", "MALFORMED", "no secondary header")
    if h.apid != word0 & APID_MAX:
        raise PacketError(name, "apid", "MALFORMED", f"APID {h.apid:#05x}, expected {word0 & APID_MAX:#05x}")
    if h.seq_flags != SEQ_FLAGS_UNSEGMENTED:
        raise PacketError(name, "seq_flags", "MALFORMED", f"sequence flags {h.seq_flags}, expected 3")
    if h.total_length != size or len(buf) != size:
        raise PacketError(name, "length", "BAD_LENGTH",
                          f"{len(buf)} bytes, header says {h.total_length}, expected {size}")


# --- value layout helpers ---------------------------------------------------------------------------
def _flat_slots(fields) -> list[tuple]:
    """(field, first flat index, number of flat values) for a flat value sequence."""
    slots, i = [], 0
    for f in fields:
        n = 1 if f.type == "char" else f.count
        slots.append((f, i, n))
        i += n
    return slots


def _check_char(packet: str, f, v) -> bytes:
    if isinstance(v, str) and v.isascii():
        v = v.encode(CHAR_ENCODING)
    if not isinstance(v, bytes | bytearray) or len(v) > f.count or not v.isascii():
        raise PacketError(packet, f.name, "ARG_OUT_OF_RANGE", f"needs ASCII of at most {f.count} bytes, got {v!r}")
    return bytes(v)


def _diagnose_values(packet: str, fields, values) -> PacketError:
    """Find which value made struct refuse the packet (slow path, only after a failure)."""
    slots = _flat_slots(fields)
    try:
        values = list(values)
    except TypeError:
        return PacketError(packet, "values", "MALFORMED", f"values must be a sequence, got {type(values).__name__}")
    n_expected = slots[-1][1] + slots[-1][2] if slots else 0
    if len(values) != n_expected:
        return PacketError(packet, "values", "MALFORMED", f"{len(values)} values, expected {n_expected}")
    for f, i, n in slots:
        chunk = values[i:i + n]
        if f.type == "char":
            try:
                _check_char(packet, f, chunk[0])
            except PacketError as err:
                return err
            continue
        try:
            struct.pack(">" + field_format(f), *chunk)
        except _STRUCT_ERRORS as exc:
            return PacketError(packet, f.name, "ARG_OUT_OF_RANGE", f"{chunk if n > 1 else chunk[0]!r}: {exc}")
    return PacketError(packet, "values", "MALFORMED", "struct refused the values")


def _time_error(packet: str, t_ns) -> PacketError | None:
    if not isinstance(t_ns, int | np.integer):
        return PacketError(packet, "t_ns", "ARG_OUT_OF_RANGE", f"needs an integer [ns], got {t_ns!r}")
    if not 0 <= t_ns < (CUC_COARSE_MAX + 1) * NS_PER_S:
        return PacketError(packet, "t_ns", "ARG_OUT_OF_RANGE", f"{t_ns} ns is outside the 32-bit CUC range")
    return None


def _seq_error(packet: str, seq_count) -> PacketError | None:
    if not isinstance(seq_count, int | np.integer) or not 0 <= seq_count < SEQ_COUNT_MOD:
        return PacketError(packet, "seq_count", "ARG_OUT_OF_RANGE", f"{seq_count!r} is not in 0..{SEQ_COUNT_MOD - 1}")
    return None


# --- telemetry ----------------------------------------------------------------------------------------
class TmCodec:
    """Precompiled codec of one telemetry packet.

    Attributes
    ----------
    name, apid : str, int
    size : int
        [B] whole packet length.
    n_values : int
        Length of the flat value sequence (arrays flattened, one bytes object per char field).
    """

    def __init__(self, name: str):
        pkt = TM_BY_NAME[name]
        self.name = name
        self.apid = pkt.apid
        self.fields = pkt.fields
        self.size = tm_size(name)
        payload_fmt = "".join(field_format(f) for f in pkt.fields)
        self._struct = struct.Struct(_TM_HEADERS + payload_fmt)
        if self._struct.size != self.size:
            raise AssertionError(f"{name}: struct size {self._struct.size} != construct size {self.size}")
        self._native = struct.Struct("=" + payload_fmt)  # record_dtype is packed and native-endian
        self._record_head = struct.Struct("=qI")          # record fields t_ns [ns], seq
        self._word0 = _word0(TYPE_TM, pkt.apid)
        self._length = self.size - LENGTH_OFFSET
        slots = _flat_slots(pkt.fields)
        self.n_values = slots[-1][1] + slots[-1][2] if slots else 0
        self._char_slots = tuple((f, i) for f, i, _ in slots if f.type == "char")
        self._views: dict[int, tuple] = {}
        self._compile()

    def _compile(self) -> None:
        """Bind the per-call functions as closures over constants (no attribute look-ups per call)."""
        spack = self._struct.pack
        sunpack = self._struct.unpack
        native_unpack_from = self._native.unpack_from
        native_pack_into = self._native.pack_into
        head_pack_into = self._record_head.pack_into
        w0, length, size, name = self._word0, self._length, self.size, self.name
        seq_hdr = _SEQ_FLAGS_BITS
        char_slots = self._char_slots
        record_offset = self._record_head.size
        views = self._views
        fields = self.fields
        record_dt = record_dtype(name)
        record_size = record_dt.itemsize

        def fail(seq_count, t_ns, values):
            err = _seq_error(name, seq_count) or _time_error(name, t_ns) or _diagnose_values(name, fields, values)
            return err

        def pack(seq_count, t_ns, values):
            """Packet bytes of a flat value sequence; PacketError on any out-of-range value."""
            if char_slots:
                values = list(values)
                for f, i in char_slots:
                    values[i] = _check_char(name, f, values[i])
            if 0 <= seq_count < SEQ_COUNT_MOD and 0 <= t_ns:
                sec, rem = divmod(t_ns, NS_PER_S)
                try:
                    return spack(w0, seq_hdr | seq_count, length, sec, rem * CUC_FINE_PER_S // NS_PER_S, *values)
                except _STRUCT_ERRORS:
                    pass
            raise fail(seq_count, t_ns, values)

        def pack_record(seq_count, t_ns, record):
            """Packet bytes of a 0-d record of ``record_dtype(name)`` (its t_ns/seq are ignored)."""
            raw = record.tobytes()
            if len(raw) != record_size:
                raise TypeError(f"{name}: record of {len(raw)} bytes is not a record_dtype({name!r}) record")
            return pack(seq_count, t_ns, native_unpack_from(raw, record_offset))

        def unpack(buf):
            """(seq_count, t_ns [ns], flat values) of a packet; PacketError when it is not one."""
            if len(buf) == size:
                t = sunpack(buf)
                if t[0] == w0 and t[2] == length and t[1] >> SEQ_FLAGS_SHIFT == SEQ_FLAGS_UNSEGMENTED:
                    values = t[5:]
                    if char_slots:
                        values = list(values)
                        for _, i in char_slots:
                            values[i] = values[i].rstrip(b"\0")
                        values = tuple(values)
                    return (t[1] & _SEQ_MASK,
                            t[3] * NS_PER_S - (-t[4] * NS_PER_S // CUC_FINE_PER_S), values)
            _check_header(name, buf, w0, size)
            raise PacketError(name, "packet", "MALFORMED", "unexpected layout")

        def unpack_into(buf, record):
            """Decode into a 0-d record of ``record_dtype(name)``: t_ns, fields, ``seq += 1``.

            Returns the packet's sequence count.
            """
            seq_count, t_ns, _ = unpack(buf)
            view = views.get(id(record))
            if view is None or view[0] is not record:
                if not isinstance(record, np.ndarray) or record.shape != () or record.dtype != record_dt:
                    raise TypeError(f"{name}: unpack_into needs a 0-d array of record_dtype({name!r}), "
                                    f"got {type(record).__name__} {getattr(record, 'dtype', '')}")
                if len(views) > 64:  # records are long-lived; bound the cache anyway
                    views.clear()
                view = (record, record.reshape(1).view(np.uint8))
                views[id(record)] = view
            raw = view[1]
            seq = int(record["seq"])
            head_pack_into(raw, 0, t_ns, (seq + 1) & 0xFFFFFFFF)
            native_pack_into(raw, record_offset, *sunpack(buf)[5:])
            return seq_count

        self.pack = pack
        self.pack_record = pack_record
        self.unpack = unpack
        self.unpack_into = unpack_into

    def __repr__(self) -> str:
        return f"TmCodec({self.name!r}, apid={self.apid:#05x}, size={self.size})"


@cache
def tm_codec(name: str) -> TmCodec:
    """The (cached) fast codec of telemetry packet ``name``; KeyError if not in the dictionary."""
    if name not in TM_BY_NAME:
        raise KeyError(f"no telemetry packet named {name!r} in telemetry.dictionary")
    return TmCodec(name)


def tm_codec_by_apid(apid: int) -> TmCodec:
    """Fast codec of the telemetry packet with ``apid``; PacketError UNKNOWN_APID if none."""
    pkt = TM_BY_APID.get(apid)
    if pkt is None:
        raise PacketError("?", "apid", "UNKNOWN_APID", f"APID {apid:#05x} is not a telemetry packet")
    return tm_codec(pkt.name)


def decode_tm(buf) -> tuple[str, int, int, tuple]:
    """(name, seq_count, t_ns, values) of any telemetry packet of the dictionary."""
    codec = tm_codec_by_apid(peek_apid(buf))
    return (codec.name, *codec.unpack(buf))


# --- the construct path: reference implementation for tests, tools and benchmarks -----------------
def _values_to_container(fields, values) -> dict:
    out = {}
    for f, i, n in _flat_slots(fields):
        if f.type == "char":
            v = values[i]
            out[f.name] = v.decode(CHAR_ENCODING) if isinstance(v, bytes | bytearray) else v
        else:
            out[f.name] = list(values[i:i + n]) if f.count > 1 else values[i]
    return out


def _container_to_values(fields, payload) -> tuple:
    out = []
    for f in fields:
        v = payload[f.name]
        if f.type == "char":
            out.append(v.encode(CHAR_ENCODING))
        elif f.count > 1:
            out.extend(v)
        else:
            out.append(v)
    return tuple(out)


def _construct_error(name: str, err: ConstructError, reason: str) -> PacketError:
    path = str(getattr(err, "path", "") or "")
    field = path.rsplit("->", 1)[-1].strip() if "->" in path else "packet"
    return PacketError(name, field, reason, str(err).splitlines()[-1])


def construct_pack_tm(name: str, seq_count: int, t_ns: int, values) -> bytes:
    """Build telemetry packet ``name`` with construct (slow reference of ``TmCodec.pack``)."""
    err = _seq_error(name, seq_count) or _time_error(name, t_ns)
    if err:
        raise err
    pkt = TM_BY_NAME[name]
    values = tuple(values)
    if len(values) != tm_codec(name).n_values:
        raise PacketError(name, "values", "MALFORMED", f"{len(values)} values, expected {tm_codec(name).n_values}")
    seconds, rem = divmod(t_ns, NS_PER_S)
    obj = {"primary": {"seq_count": seq_count},
           "secondary": {"seconds": seconds, "subseconds": rem * CUC_FINE_PER_S // NS_PER_S},
           "payload": _values_to_container(pkt.fields, values)}
    try:
        return tm_struct(name).build(obj)
    except ConstructError as exc:
        raise _construct_error(name, exc, "ARG_OUT_OF_RANGE") from exc


def construct_unpack_tm(name: str, buf: bytes) -> tuple[int, int, tuple]:
    """Parse telemetry packet ``name`` with construct (slow reference of ``TmCodec.unpack``)."""
    if len(buf) != tm_size(name):
        raise PacketError(name, "length", "BAD_LENGTH", f"{len(buf)} bytes, expected {tm_size(name)}")
    try:
        c = tm_struct(name).parse(buf)
    except ConstructError as exc:
        raise _construct_error(name, exc, "MALFORMED") from exc
    seconds, sub = c.secondary.seconds, c.secondary.subseconds
    t_ns = seconds * NS_PER_S - (-sub * NS_PER_S // CUC_FINE_PER_S)
    return c.primary.seq_count, t_ns, _container_to_values(TM_BY_NAME[name].fields, c.payload)


# --- telecommands -------------------------------------------------------------------------------
class ParsedCommand(NamedTuple):
    """A validated telecommand."""

    command: object          # telemetry.dictionary.Command
    args: dict               # argument name -> int / float, tuple for arrays, str for char
    seq_count: int
    apid: int


class TcCodec:
    """Precompiled codec of one telecommand: range-checked build with the cFS checksum set."""

    def __init__(self, name: str):
        cmd = CMD_BY_NAME[name]
        self.name = name
        self.command = cmd
        self.apid = cmd.apid
        self.function_code = cmd.function_code
        self.size = tc_size(name)
        self.args = cmd.args
        self._struct = struct.Struct(_TC_HEADERS + "".join(field_format(f) for f in cmd.args))
        if self._struct.size != self.size:
            raise AssertionError(f"{name}: struct size {self._struct.size} != construct size {self.size}")
        self._word0 = _word0(TYPE_TC, cmd.apid)
        self._length = self.size - LENGTH_OFFSET
        self._names = frozenset(f.name for f in cmd.args)

    def _flatten(self, args: dict) -> list:
        extra = set(args) - self._names
        if extra:
            raise PacketError(self.name, sorted(extra)[0], "MALFORMED", "not an argument of this command")
        flat = []
        for f in self.args:
            if f.name not in args:
                raise PacketError(self.name, f.name, "MALFORMED", "argument missing")
            v = args[f.name]
            if f.type == "char":
                flat.append(_check_char(self.name, f, v))
                continue
            vals = list(v) if f.count > 1 else [v]
            if len(vals) != f.count:
                raise PacketError(self.name, f.name, "ARG_OUT_OF_RANGE", f"needs {f.count} values, got {len(vals)}")
            for x in vals:
                _check_arg(self.name, f, x)
            flat.extend(vals)
        return flat

    def pack(self, seq_count: int, **args) -> bytes:
        """Command packet bytes; PacketError (ARG_OUT_OF_RANGE / MALFORMED) on bad arguments."""
        err = _seq_error(self.name, seq_count)
        if err:
            raise err
        flat = self._flatten(args)
        try:
            data = bytearray(self._struct.pack(self._word0, _SEQ_FLAGS_BITS | seq_count, self._length,
                                               self.function_code, 0, *flat))
        except _STRUCT_ERRORS as exc:
            raise _diagnose_values(self.name, self.args, flat) from exc
        data[CHECKSUM_OFFSET] = CHECKSUM_SEED ^ xor_bytes(data)
        return bytes(data)

    def unpack_args(self, buf) -> dict:
        """Arguments of an already validated packet of this command (range-checked)."""
        values = self._struct.unpack(buf)[5:]
        args = {}
        for f, i, n in _flat_slots(self.args):
            if f.type == "char":
                v = values[i].rstrip(b"\0")
                if not v.isascii():
                    raise PacketError(self.name, f.name, "ARG_OUT_OF_RANGE", "not ASCII")
                args[f.name] = v.decode(CHAR_ENCODING)
                continue
            chunk = values[i:i + n]
            for x in chunk:
                _check_arg(self.name, f, x)
            args[f.name] = tuple(chunk) if f.count > 1 else chunk[0]
        return args

    def __repr__(self) -> str:
        return f"TcCodec({self.name!r}, apid={self.apid:#05x}, fc={self.function_code}, size={self.size})"


def _check_arg(name: str, f, x) -> None:
    """Range check of one command argument value against its type and ``lo``/``hi``."""
    is_float = f.type.startswith("f")
    if is_float:
        if not isinstance(x, int | float | np.integer | np.floating) or isinstance(x, bool):
            raise PacketError(name, f.name, "ARG_OUT_OF_RANGE", f"needs a number, got {x!r}")
    elif not isinstance(x, int | np.integer) or isinstance(x, bool):
        raise PacketError(name, f.name, "ARG_OUT_OF_RANGE", f"needs an integer, got {x!r}")
    if is_float and math.isnan(x):
        if f.lo is not None or f.hi is not None:
            raise PacketError(name, f.name, "ARG_OUT_OF_RANGE", "NaN")
        return
    if (f.lo is not None and x < f.lo) or (f.hi is not None and x > f.hi):
        raise PacketError(name, f.name, "ARG_OUT_OF_RANGE", f"{x!r} not in [{f.lo}, {f.hi}]")


@cache
def tc_codec(name: str) -> TcCodec:
    """The (cached) codec of telecommand ``name``; KeyError if not in the dictionary."""
    if name not in CMD_BY_NAME:
        raise KeyError(f"no telecommand named {name!r} in telemetry.dictionary")
    return TcCodec(name)


def parse_command(buf) -> ParsedCommand:
    """Validate and decode one telecommand packet.

    Checks, in order: minimum length, primary header (version, type, secondary-header flag,
    sequence flags), length field against the buffer, cFS checksum, APID, reserved bit and
    function code, the command's exact length, and each argument's range.

    Raises
    ------
    PacketError
        Naming the command (or ``'?'``), the field and the reason (MALFORMED, BAD_LENGTH,
        BAD_CHECKSUM, UNKNOWN_APID, UNKNOWN_FUNCTION, ARG_OUT_OF_RANGE).
    """
    if not isinstance(buf, bytes | bytearray | memoryview):
        raise PacketError("?", "packet", "MALFORMED", f"needs bytes, got {type(buf).__name__}")
    buf = bytes(buf)
    if len(buf) < TC_HEADER_SIZE:
        raise PacketError("?", "length", "BAD_LENGTH", f"{len(buf)} bytes, a command has at least {TC_HEADER_SIZE}")
    h = read_primary_header(buf)
    if h.version != CCSDS_VERSION:
        raise PacketError("?", "version", "MALFORMED", f"version {h.version}")
    if h.packet_type != TYPE_TC:
        raise PacketError("?", "type", "MALFORMED", "type bit 0: a telemetry packet, not a command")
    if not h.sec_hdr_flag:
        raise PacketError("?", "sec_hdr_flag", "MALFORMED", "commands carry a secondary header")
    if h.seq_flags != SEQ_FLAGS_UNSEGMENTED:
        raise PacketError("?", "seq_flags", "MALFORMED", f"sequence flags {h.seq_flags}, expected 3")
    if h.total_length != len(buf):
        raise PacketError("?", "length", "BAD_LENGTH", f"header says {h.total_length} bytes, got {len(buf)}")
    if not checksum_valid(buf):
        raise PacketError("?", "checksum", "BAD_CHECKSUM", f"checksum byte {buf[CHECKSUM_OFFSET]:#04x}")
    if not any(apid == h.apid for apid, _ in CMD_BY_CODE):
        raise PacketError("?", "apid", "UNKNOWN_APID", f"APID {h.apid:#05x} takes no commands")
    fc_byte = buf[TC_HEADER_SIZE - 2]
    if fc_byte > FUNCTION_CODE_MAX:
        raise PacketError("?", "reserved", "MALFORMED", "reserved bit of the function code byte is set")
    cmd = CMD_BY_CODE.get((h.apid, fc_byte))
    if cmd is None:
        raise PacketError("?", "function_code", "UNKNOWN_FUNCTION", f"APID {h.apid:#05x} function code {fc_byte}")
    codec = tc_codec(cmd.name)
    if len(buf) != codec.size:
        raise PacketError(cmd.name, "length", "BAD_LENGTH", f"{len(buf)} bytes, {cmd.name} is {codec.size}")
    return ParsedCommand(cmd, codec.unpack_args(buf), h.seq_count, h.apid)


def construct_pack_tc(name: str, seq_count: int, **args) -> bytes:
    """Build telecommand ``name`` with construct (slow reference of ``TcCodec.pack``)."""
    err = _seq_error(name, seq_count)
    if err:
        raise err
    obj = {"primary": {"seq_count": seq_count}, "secondary": {"checksum": 0}, "args": dict(args)}
    try:
        return tc_struct(name).build(obj)
    except (ConstructError, KeyError, TypeError) as exc:
        if isinstance(exc, ConstructError):
            raise _construct_error(name, exc, "ARG_OUT_OF_RANGE") from exc
        raise PacketError(name, "args", "MALFORMED", repr(exc)) from exc


# --- numpy dtypes of whole packets (bulk decoding) --------------------------------------------------
TM_HEADER_DTYPE_FIELDS = [
    ("ccsds_word0", ">u2"),      # version, type, sec-hdr flag, APID
    ("ccsds_seq", ">u2"),        # sequence flags, sequence count
    ("ccsds_length", ">u2"),     # total length - 7
    ("cuc_seconds", ">u4"),      # [s]
    ("cuc_subseconds", ">u2"),   # [1/65536 s]
]


@cache
def packet_dtype(name: str) -> np.dtype:
    """Big-endian numpy dtype of the whole telemetry packet ``name`` (headers + payload)."""
    dt = np.dtype(TM_HEADER_DTYPE_FIELDS + [f.numpy_type(">") for f in TM_BY_NAME[name].fields])
    if dt.itemsize != tm_size(name):
        raise AssertionError(f"{name}: dtype size {dt.itemsize} != construct size {tm_size(name)}")
    return dt

