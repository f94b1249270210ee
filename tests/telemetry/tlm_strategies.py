"""Hypothesis strategies for packet values drawn from the dictionary declarations."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from telemetry.headers import CUC_COARSE_MAX, NS_PER_S, SEQ_COUNT_MOD

INT_RANGES = {
    "u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1), "u64": (0, 2**64 - 1),
    "i8": (-(2**7), 2**7 - 1), "i16": (-(2**15), 2**15 - 1), "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
FLOAT_WIDTH = {"f32": 32, "f64": 64}
# printable ASCII without NUL: a decoded char field strips trailing NUL padding
ASCII_TEXT = string.ascii_letters + string.digits + string.punctuation + " "

seq_counts = st.integers(0, SEQ_COUNT_MOD - 1)
times_ns = st.integers(0, (CUC_COARSE_MAX + 1) * NS_PER_S - 1)


def scalar(f, allow_nan: bool = False):
    """Valid values of one element of field ``f`` (respecting a command argument's lo/hi)."""
    if f.type in FLOAT_WIDTH:
        lo = f.lo if f.lo is not None else None
        hi = f.hi if f.hi is not None else None
        bounded = lo is not None or hi is not None
        return st.floats(lo, hi, width=FLOAT_WIDTH[f.type], allow_nan=allow_nan and not bounded,
                         allow_infinity=not bounded)
    lo, hi = INT_RANGES[f.type]
    if f.lo is not None:
        lo = max(lo, int(f.lo))
    if f.hi is not None:
        hi = min(hi, int(f.hi))
    return st.integers(lo, hi)


def field_values(f, allow_nan: bool = False):
    """Flat values of field ``f``: one bytes for char, ``count`` scalars otherwise (as a list)."""
    if f.type == "char":
        return st.text(ASCII_TEXT, max_size=f.count).map(lambda s: [s.encode("ascii")])
    return st.lists(scalar(f, allow_nan), min_size=f.count, max_size=f.count)


@st.composite
def flat_values(draw, fields, allow_nan: bool = False):
    """A valid flat value tuple for a packet made of ``fields``."""
    out = []
    for f in fields:
        out.extend(draw(field_values(f, allow_nan)))
    return tuple(out)


@st.composite
def command_args(draw, args):
    """A valid keyword-argument dict for a command with argument fields ``args``."""
    out = {}
    for f in args:
        vals = draw(field_values(f))
        out[f.name] = vals[0].decode("ascii") if f.type == "char" else (vals if f.count > 1 else vals[0])
    return out


def out_of_range_int(type_name: str):
    """Integers just outside the range of an integer wire type."""
    lo, hi = INT_RANGES[type_name]
    return st.one_of(st.integers(hi + 1, hi + 2**70), st.integers(lo - 2**70, lo - 1))
