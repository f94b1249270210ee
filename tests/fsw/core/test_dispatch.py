"""fsw/core/dispatch.py: the compiled entry point is active and computes what the dispatcher does."""

from __future__ import annotations

import numpy as np
from numba import njit

from fsw.core.dispatch import compiled_entry
from fsw.messages import new_message


@njit(cache=False)
def _kernel(t_ns, gain, x, rec):
    r = rec[0]
    r.t_ns = t_ns
    r.seq += 1
    s = 0.0
    for i in range(x.shape[0]):
        x[i] *= gain
        s += x[i]
    return s


def test_the_entry_point_is_not_the_dispatcher_and_agrees_with_it():
    x1, x2 = np.arange(4.0), np.arange(4.0)
    r1, r2 = new_message("TORQUE_CMD").reshape(1), new_message("TORQUE_CMD").reshape(1)
    entry = compiled_entry(_kernel, 0, 1.0, x1, r1)
    assert entry is not _kernel  # the fast path is in use on this numba
    for t in (5, 10**15):
        assert entry(t, 2.0, x1, r1) == _kernel(t, 2.0, x2, r2)
    assert np.array_equal(x1, x2) and x1.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert r1.tobytes() == r2.tobytes() and int(r1[0]["seq"]) == 2 and int(r1[0]["t_ns"]) == 10**15


def test_without_numba_internals_it_falls_back_to_the_kernel():
    def plain(a):
        return a

    assert compiled_entry(plain, 1) is plain
