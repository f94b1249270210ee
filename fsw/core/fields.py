"""Reading scattered record fields from one numba kernel: bound addresses and typed loads.

A table-driven app (FDIR) reads one field from each of dozens of bus records of different
dtypes. Gathering them in Python costs ~150 ns a field; here the app binds, once at start-up,
the absolute address and scalar type of each field, and a kernel loads them all in one call.
This is the flight-software idiom of a pre-resolved parameter table (cFS LC's watchpoint
definition table holds a message ID, an offset and a data type for the same reason).

Safety rules (the binder, not these kernels, enforces them):
- the address must point into a live numpy buffer that the binder keeps a reference to and
  that is never reallocated (bus records are allocated once at start-up and updated in place);
- the buffer is little-endian, as every record dtype of the packet dictionary is.

Scalar type codes (``TYPE_CODES``) are the numpy ``dtype.str`` of the field's base type.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# numpy dtype.str -> code. Order matters: codes index the branches of load_scalar.
TYPE_CODES = {"<f8": 0, "<f4": 1, "<i8": 2, "<u8": 3, "<i4": 4, "<u4": 5, "<i2": 6, "<u2": 7, "|i1": 8, "|u1": 9,
              "|b1": 9}


def _loader(nb_type):
    @intrinsic
    def load(typingctx, addr):
        if not isinstance(addr, types.Integer):
            return None
        sig = nb_type(types.intp)

        def codegen(context, builder, signature, args):
            ptr_type = context.get_value_type(nb_type).as_pointer()
            ptr = builder.inttoptr(args[0], ptr_type)
            return builder.load(ptr, align=1)  # packed dtypes: fields need not be aligned

        return sig, codegen

    return load


_load_f8 = _loader(types.float64)
_load_f4 = _loader(types.float32)
_load_i8 = _loader(types.int64)
_load_u8 = _loader(types.uint64)
_load_i4 = _loader(types.int32)
_load_u4 = _loader(types.uint32)
_load_i2 = _loader(types.int16)
_load_u2 = _loader(types.uint16)
_load_i1 = _loader(types.int8)
_load_u1 = _loader(types.uint8)


@njit(cache=True)
def load_scalar(addr, code):
    """The scalar of type ``code`` (TYPE_CODES) at ``addr``, as float64 (integers above 2**53 round)."""
    if code == 0:
        return _load_f8(addr)
    if code == 1:
        return np.float64(_load_f4(addr))
    if code == 2:
        return np.float64(_load_i8(addr))
    if code == 3:
        return np.float64(_load_u8(addr))
    if code == 4:
        return np.float64(_load_i4(addr))
    if code == 5:
        return np.float64(_load_u4(addr))
    if code == 6:
        return np.float64(_load_i2(addr))
    if code == 7:
        return np.float64(_load_u2(addr))
    if code == 8:
        return np.float64(_load_i1(addr))
    return np.float64(_load_u1(addr))


@njit(cache=True)
def load_int64(addr):
    """The int64 at ``addr`` (a record's ``t_ns``)."""
    return _load_i8(addr)


@njit(cache=True)
def load_uint32(addr):
    """The uint32 at ``addr`` (a record's ``seq``)."""
    return _load_u4(addr)


@njit(cache=True)
def gather(addr, code, out):
    """``out[i] = load_scalar(addr[i], code[i])`` for every bound field."""
    for i in range(addr.shape[0]):
        out[i] = load_scalar(addr[i], code[i])
