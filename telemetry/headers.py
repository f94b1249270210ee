"""CCSDS space packet headers and whole-packet construct declarations (the single source of layout).

Every byte layout of the project is declared here with construct, once:

- the primary header (6 bytes, CCSDS 133.0-B),
- the telemetry secondary header (CUC time, 4 + 2 bytes),
- the telecommand secondary header (function code + cFS XOR checksum),
- one declaration per packet of ``telemetry.dictionary`` (``tm_struct``, ``tc_struct``).

The fast codecs of ``telemetry.codec`` and the numpy dtypes for bulk decoding are derived from the
same wire-type table (``WIRE_TYPES``) and the same header constants; ``tests/telemetry`` proves they
agree with these declarations byte for byte.

Packet constants (sizes, flag values, sync marker) live in this module and nowhere else.
"""

from __future__ import annotations

import io
from functools import cache

from construct import (
    Array,
    BitsInteger,
    BitStruct,
    ChecksumError,
    Const,
    Construct,
    ExprValidator,
    Float32b,
    Float64b,
    Int8sb,
    Int8ub,
    Int16sb,
    Int16ub,
    Int32sb,
    Int32ub,
    Int64sb,
    Int64ub,
    PaddedString,
    Struct,
    Subconstruct,
    stream_read,
    stream_write,
)

from telemetry.dictionary import CMD_BY_NAME, TM_BY_NAME, Field
from telemetry.units import NS_PER_S  # noqa: F401  (re-exported: CUC conversions are in ns)

# --- CCSDS constants (docs/reference.md "Packets") ---------------------------------------------------
# The primary header's fields in wire order with their widths [bits] (CCSDS 133.0-B 4.1.3): the one
# declaration that the construct BitStruct below and the shift/mask constants of every fast path (the
# struct codecs, the deframer, the numba bulk decoder, the routers' peeks) are made from.
PRIMARY_FIELDS = (("version", 3), ("type", 1), ("sec_hdr_flag", 1), ("apid", 11), ("seq_flags", 2),
                  ("seq_count", 14), ("data_length", 16))


def _word_layout(fields) -> dict[str, tuple[int, int, int]]:
    """Field -> (16-bit word index, shift in the word, mask) of a header declared as ``fields``."""
    out, bit = {}, 0
    for name, width in fields:
        word, pos = divmod(bit, 16)
        if pos + width > 16:
            raise ValueError(f"header field {name!r} straddles a 16-bit word")
        out[name] = (word, 16 - pos - width, (1 << width) - 1)
        bit += width
    return out


PRIMARY_WORDS = _word_layout(PRIMARY_FIELDS)  # the header as three big-endian u16 words
VERSION_SHIFT = PRIMARY_WORDS["version"][1]   # in word 0
TYPE_SHIFT = PRIMARY_WORDS["type"][1]          # in word 0
SEC_HDR_SHIFT = PRIMARY_WORDS["sec_hdr_flag"][1]  # in word 0
APID_MASK = PRIMARY_WORDS["apid"][2]           # word 0, shift 0
SEQ_FLAGS_SHIFT = PRIMARY_WORDS["seq_flags"][1]   # in word 1
SEQ_COUNT_MASK = PRIMARY_WORDS["seq_count"][2]     # word 1, shift 0
CCSDS_VERSION = 0            # packet version number 1 is encoded as 0b000
TYPE_TM = 0                  # packet type bit: telemetry
TYPE_TC = 1                  # packet type bit: telecommand
SEQ_FLAGS_UNSEGMENTED = 3    # sequence flags 0b11: a standalone packet
APID_MAX = APID_MASK         # 11-bit application process identifier
SEQ_COUNT_MOD = SEQ_COUNT_MASK + 1  # the 14-bit sequence count wraps here
PRIMARY_HEADER_SIZE = 6      # [B]
TM_SECONDARY_HEADER_SIZE = 6  # [B] CUC 4 B coarse + 2 B fine
TC_SECONDARY_HEADER_SIZE = 2  # [B] function code + checksum
TM_HEADER_SIZE = PRIMARY_HEADER_SIZE + TM_SECONDARY_HEADER_SIZE
TC_HEADER_SIZE = PRIMARY_HEADER_SIZE + TC_SECONDARY_HEADER_SIZE
LENGTH_OFFSET = 7            # data length field = total packet length - 7 (CCSDS 133.0-B 4.1.3.5)
FUNCTION_CODE_MAX = 0x7F     # 7-bit function code, the high bit is reserved
CHECKSUM_SEED = 0xFF         # cFS CFE_MSG_ComputeCheckSum starts from 0xFF
CHECKSUM_OFFSET = 7          # [B] position of the checksum byte in a telecommand

# --- serial framing: attached sync marker + packet + CRC-16 (docs/reference.md "Packets") ----------
ASM = bytes.fromhex("1ACFFC1D")   # CCSDS attached sync marker
ASM_SIZE = len(ASM)
CRC_SIZE = 2                       # [B] CRC-16 trailer, big-endian
CRC_POLY = 0x1021                  # CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, no reflection, no xorout
CRC_INIT = 0xFFFF

# --- time code: CUC 4 + 2 ---------------------------------------------------------------------------
CUC_FINE_PER_S = 1 << 16     # subsecond unit is 1/65536 s
CUC_COARSE_MAX = (1 << 32) - 1

# --- wire types: dictionary type -> (construct big-endian field, struct format character) ---------
WIRE_TYPES = {
    "u8": (Int8ub, "B"), "u16": (Int16ub, "H"), "u32": (Int32ub, "I"), "u64": (Int64ub, "Q"),
    "i8": (Int8sb, "b"), "i16": (Int16sb, "h"), "i32": (Int32sb, "i"), "i64": (Int64sb, "q"),
    "f32": (Float32b, "f"), "f64": (Float64b, "d"),
}
CHAR_ENCODING = "ascii"


def primary_header(apid: int | None = None, packet_type: int | None = None,
                   data_length: int | None = None) -> Construct:
    """CCSDS primary header; fields given here become constants checked on parse and build.

    Parameters
    ----------
    apid, packet_type, data_length : int, optional
        Fix the APID, the type bit or the data length field [B, total - 7] of one packet kind.
    """
    def fixed(width, value, doc):
        return Const(value, BitsInteger(width)) * doc if value is not None else BitsInteger(width) * doc

    w = dict(PRIMARY_FIELDS)
    return BitStruct(
        "version" / Const(CCSDS_VERSION, BitsInteger(w["version"])) * "packet version number, 0b000",
        "type" / fixed(w["type"], packet_type, "0 telemetry, 1 telecommand"),
        "sec_hdr_flag" / Const(1, BitsInteger(w["sec_hdr_flag"])) * "1: a secondary header follows (always, here)",
        "apid" / fixed(w["apid"], apid, "application process identifier"),
        "seq_flags" / Const(SEQ_FLAGS_UNSEGMENTED, BitsInteger(w["seq_flags"])) * "0b11: unsegmented packet",
        "seq_count" / BitsInteger(w["seq_count"]) * "per-APID packet counter, wraps at 16384",
        "data_length" / fixed(w["data_length"], data_length, "total packet length in bytes minus 7"),
    )


def primary_words(packet_type: int, apid: int, seq_count: int, total_length: int) -> tuple[int, int, int]:
    """The three big-endian u16 words of a primary header (version 0, secondary header, unsegmented)."""
    return ((CCSDS_VERSION << VERSION_SHIFT) | (packet_type << TYPE_SHIFT) | (1 << SEC_HDR_SHIFT) | apid,
            (SEQ_FLAGS_UNSEGMENTED << SEQ_FLAGS_SHIFT) | (seq_count & SEQ_COUNT_MASK),
            total_length - LENGTH_OFFSET)


def header_plausible(w0: int, w1: int) -> bool:
    """Version 0 and unsegmented: what a deframer asks of a header before trusting its length."""
    return w0 >> VERSION_SHIFT == CCSDS_VERSION and w1 >> SEQ_FLAGS_SHIFT == SEQ_FLAGS_UNSEGMENTED


def peek_apid(buf) -> int:
    """APID of the packet in ``buf``, -1 when shorter than 2 bytes (never raises)."""
    if len(buf) < 2:
        return -1
    return (buf[0] << 8 | buf[1]) & APID_MASK


def peek_length(buf) -> int:
    """Whole packet length [B] the header in ``buf`` announces, -1 when shorter than a header."""
    if len(buf) < PRIMARY_HEADER_SIZE:
        return -1
    return (buf[4] << 8 | buf[5]) + LENGTH_OFFSET


def peek_function_code(buf) -> int:
    """Function code of the telecommand in ``buf`` (byte 6, high bit reserved), -1 when too short."""
    if len(buf) <= PRIMARY_HEADER_SIZE:
        return -1
    return buf[PRIMARY_HEADER_SIZE] & FUNCTION_CODE_MAX


def peek_ids(buf) -> tuple[int, int, int]:
    """(APID, function code, sequence count) of a possibly malformed telecommand, 0 where it is too short:
    what an acknowledgement names (never raises)."""
    return max(peek_apid(buf), 0), max(peek_function_code(buf), 0), max(peek_seq_count(buf), 0)


def peek_seq_count(buf) -> int:
    """Sequence count of the packet in ``buf``, -1 when shorter than 4 bytes."""
    if len(buf) < 4:
        return -1
    return (buf[2] << 8 | buf[3]) & SEQ_COUNT_MASK


PrimaryHeader = primary_header()

TmSecondaryHeader = Struct(
    "seconds" / Int32ub * "CUC coarse time [s] since the run epoch",
    "subseconds" / Int16ub * "CUC fine time [1/65536 s], truncated",
)

TcSecondaryHeader = Struct(
    "fc" / BitStruct(
        "reserved" / Const(0, BitsInteger(1)) * "reserved, 0",
        "function_code" / BitsInteger(7) * "command function code",
    ),
    "checksum" / Int8ub * "0xFF XOR every packet byte, computed with this byte 0 (cFS)",
)


def xor_bytes(data: bytes) -> int:
    """XOR of every byte of ``data`` (0 for empty input)."""
    x = int.from_bytes(data, "little")
    width = max(len(data), 1) * 8
    # fold the integer onto itself: log2(len) steps instead of one Python step per byte
    while width > 8:
        width = (width + 15) // 16 * 8
        x = (x >> width) ^ (x & ((1 << width) - 1))
    return x


def cfs_checksum(packet: bytes) -> int:
    """cFS checksum of a telecommand: 0xFF XOR every byte, the checksum byte taken as 0."""
    return CHECKSUM_SEED ^ xor_bytes(packet) ^ packet[CHECKSUM_OFFSET]


def checksum_valid(packet: bytes) -> bool:
    """cFS CFE_MSG_ValidateChecksum: 0xFF XOR every byte (checksum included) is 0."""
    return len(packet) > CHECKSUM_OFFSET and CHECKSUM_SEED ^ xor_bytes(packet) == 0


class CfsChecksummed(Subconstruct):
    """A telecommand whose byte 7 is the cFS checksum over the whole packet.

    Build sets the checksum (whatever the object says); parse refuses a packet whose checksum
    does not verify. The subcon must be fixed-size.
    """

    def _parse(self, stream, context, path):
        data = stream_read(stream, self.subcon._sizeof(context, path), path)
        if not checksum_valid(data):
            raise ChecksumError(f"bad cFS checksum {data[CHECKSUM_OFFSET]:#04x}", path=path)
        return self.subcon._parsereport(io.BytesIO(data), context, path)

    def _build(self, obj, stream, context, path):
        inner = io.BytesIO()
        built = self.subcon._build(obj, inner, context, path)
        data = bytearray(inner.getvalue())
        data[CHECKSUM_OFFSET] = 0
        data[CHECKSUM_OFFSET] = CHECKSUM_SEED ^ xor_bytes(bytes(data))
        stream_write(stream, bytes(data), len(data), path)
        return built


def field_construct(f: Field, checked: bool = False) -> Construct:
    """Construct declaration of one dictionary field (documented with its unit and description).

    With ``checked`` the inclusive ``lo``/``hi`` bounds of a command argument are enforced on
    parse and build (NaN is refused: it compares false).
    """
    if f.type == "char":
        base = PaddedString(f.count, CHAR_ENCODING)
    else:
        base = WIRE_TYPES[f.type][0]
        if checked and (f.lo is not None or f.hi is not None):
            lo = float("-inf") if f.lo is None else f.lo
            hi = float("inf") if f.hi is None else f.hi
            base = ExprValidator(base, lambda obj, ctx, lo=lo, hi=hi: lo <= obj <= hi)
        if f.count > 1:
            base = Array(f.count, base)
    unit = f" [{f.unit}]" if f.unit else ""
    return f.name / base * f"{f.description}{unit}"


def field_format(f: Field) -> str:
    """struct format of one field, e.g. ``3d`` or ``16s`` (big-endian is set by the caller)."""
    if f.type == "char":
        return f"{f.count}s"
    ch = WIRE_TYPES[f.type][1]
    return f"{f.count}{ch}" if f.count > 1 else ch


def payload_size(fields) -> int:
    """Size [B] of a payload made of ``fields``."""
    return Struct(*[field_construct(f) for f in fields]).sizeof()


def tm_size(name: str) -> int:
    """Total size [B] of telemetry packet ``name`` (headers + payload)."""
    return TM_HEADER_SIZE + payload_size(TM_BY_NAME[name].fields)


def tc_size(name: str) -> int:
    """Total size [B] of telecommand ``name`` (headers + arguments)."""
    return TC_HEADER_SIZE + payload_size(CMD_BY_NAME[name].args)


@cache
def tm_struct(name: str) -> Construct:
    """Construct declaration of the whole telemetry packet ``name`` (headers fixed to its APID)."""
    pkt = TM_BY_NAME[name]
    return Struct(
        "primary" / primary_header(pkt.apid, TYPE_TM, tm_size(name) - LENGTH_OFFSET),
        "secondary" / TmSecondaryHeader,
        "payload" / Struct(*[field_construct(f) for f in pkt.fields]) * pkt.description,
    )


@cache
def tc_struct(name: str) -> Construct:
    """Construct declaration of telecommand ``name``: range-checked args, checksum set/verified."""
    cmd = CMD_BY_NAME[name]
    body = Struct(
        "primary" / primary_header(cmd.apid, TYPE_TC, tc_size(name) - LENGTH_OFFSET),
        "secondary" / Struct(
            "fc" / BitStruct(
                "reserved" / Const(0, BitsInteger(1)) * "reserved, 0",
                "function_code" / Const(cmd.function_code, BitsInteger(7)) * cmd.name,
            ),
            "checksum" / Int8ub * "0xFF XOR every packet byte, computed with this byte 0 (cFS)",
        ),
        "args" / Struct(*[field_construct(f, checked=True) for f in cmd.args]) * cmd.description,
    )
    return CfsChecksummed(body)


def t_ns_to_cuc(t_ns: int) -> tuple[int, int]:
    """CUC (seconds, subseconds) of flight time ``t_ns``.

    Parameters
    ----------
    t_ns : int
        [ns] flight time since the run epoch, 0 <= t_ns < 2**32 s.

    Returns
    -------
    (seconds, subseconds) : (int, int)
        [s] and [1/65536 s]. The fine part is *truncated*: ``floor(rem_ns * 65536 / 1e9)``, so the
        CUC time never lies after the flight time and is at most 15.26 us (1/65536 s) before it.
    """
    seconds, rem_ns = divmod(t_ns, NS_PER_S)
    return seconds, rem_ns * CUC_FINE_PER_S // NS_PER_S


def cuc_to_t_ns(seconds: int, subseconds: int) -> int:
    """Flight time [ns] of a CUC time: the earliest nanosecond that encodes to this CUC.

    Rounding the fine part *up* makes ``t_ns_to_cuc(cuc_to_t_ns(s, f)) == (s, f)`` exact, and
    ``cuc_to_t_ns(*t_ns_to_cuc(t))`` lies in ``(t - 15.26 us, t]``.
    """
    return seconds * NS_PER_S + -(-subseconds * NS_PER_S // CUC_FINE_PER_S)
