"""fsw/core/fields.py: loads of bound record fields agree with numpy for every scalar type, aligned or not."""

from __future__ import annotations

import numpy as np
import pytest

from fsw.core.fields import TYPE_CODES, gather, load_int64, load_scalar, load_uint32
from fsw.fdir_engine import FdirTableError, bind_field

# A packed record: after the 1-byte field every following field sits at an odd address.
DT = np.dtype([("t_ns", "<i8"), ("seq", "<u4"), ("flag", "u1"), ("f8", "<f8", (3,)), ("f4", "<f4"), ("i8", "<i8"),
               ("u8", "<u8"), ("i4", "<i4"), ("u4", "<u4"), ("i2", "<i2"), ("u2", "<u2"), ("i1", "i1"), ("b", "?")])
VALUES = {"flag": 200, "f4": -1.25, "i8": -(2 ** 40) - 3, "u8": 2 ** 52 + 1, "i4": -123456, "u4": 4_000_000_000,
          "i2": -32000, "u2": 65000, "i1": -100, "b": True}


@pytest.fixture()
def rec():
    r = np.zeros((), DT)
    r["t_ns"] = 1_234_567_890_123
    r["seq"] = 4_000_000_001
    r["f8"] = [1.5, -2.25, np.pi]
    for k, v in VALUES.items():
        r[k] = v
    return r


def test_every_type_code_loads_what_numpy_holds(rec):
    for field, v in VALUES.items():
        addr, code = bind_field(rec, field, 0, "test")
        assert load_scalar(addr, code) == float(rec[field]) == float(v), field
    for k in range(3):
        addr, code = bind_field(rec, "f8", k, "test")
        assert load_scalar(addr, code) == rec["f8"][k]
    assert load_int64(bind_field(rec, "t_ns", 0, "t")[0]) == 1_234_567_890_123
    assert load_uint32(bind_field(rec, "seq", 0, "t")[0]) == 4_000_000_001


def test_fields_at_odd_addresses_are_read_whole(rec):
    addr, _ = bind_field(rec, "f8", 0, "test")
    assert addr % 2 == 1  # packed after the 1-byte flag: unaligned
    rec["f8"][0] = -7.0e-300
    out = np.zeros(1)
    gather(np.array([addr]), np.array([TYPE_CODES["<f8"]]), out)
    assert out[0] == -7.0e-300


def test_a_load_sees_later_writes_to_the_record(rec):
    bound = [bind_field(rec, "i4", 0, "t"), bind_field(rec, "f8", 2, "t")]
    addr, code = np.array([a for a, _ in bound]), np.array([c for _, c in bound])
    out = np.zeros(2)
    rec["i4"] = 42
    rec["f8"][2] = 0.5
    gather(addr, code, out)
    assert out.tolist() == [42.0, 0.5]


def test_binding_refuses_an_element_out_of_range_and_big_endian_fields():
    r = np.zeros((), DT)
    with pytest.raises(FdirTableError, match=r"wp: cannot bind f8\[3\]"):
        bind_field(r, "f8", 3, "wp")
    big = np.zeros((), np.dtype([("t_ns", ">i8")]))
    with pytest.raises(FdirTableError, match="little-endian"):
        bind_field(big, "t_ns", 0, "wp")
