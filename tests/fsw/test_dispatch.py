"""fsw/dispatch.py: the compiled entry point is active and computes what the dispatcher does."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fsw import dispatch
from fsw.dispatch import bind, compiled_entry
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


@njit(cache=False)
def _bound_kernel(x, rec, t_ns, gain):
    return _kernel(t_ns, gain, x, rec)


def test_the_entry_point_is_not_the_dispatcher_and_agrees_with_it():
    x1, x2 = np.arange(4.0), np.arange(4.0)
    r1, r2 = new_message("TORQUE_CMD").reshape(1), new_message("TORQUE_CMD").reshape(1)
    entry = compiled_entry(_kernel, 0, 1.0, x1, r1)
    assert entry is not _kernel  # the fast path is in use on this numba
    for t in (5, 10**15):
        assert entry(t, 2.0, x1, r1) == _kernel(t, 2.0, x2, r2)
    assert np.array_equal(x1, x2) and x1.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert r1.tobytes() == r2.tobytes() and int(r1[0]["seq"]) == 2 and int(r1[0]["t_ns"]) == 10**15


def test_without_numba_internals_it_falls_back_to_the_kernel_and_says_so(monkeypatch):
    def plain(a):
        return a

    monkeypatch.setattr(dispatch, "FAST_PATH_LOST", {})
    with pytest.warns(RuntimeWarning, match="plain"):
        assert compiled_entry(plain, 1) is plain
    assert list(dispatch.FAST_PATH_LOST) == ["plain"]


def test_bind_passes_the_bound_records_in_front_of_each_call():
    x1, x2 = np.arange(4.0), np.arange(4.0)
    r1, r2 = new_message("TORQUE_CMD").reshape(1), new_message("TORQUE_CMD").reshape(1)
    step = bind(_bound_kernel, x1, r1, sample=(0, 1.0))
    assert step(7, 3.0) == _bound_kernel(x2, r2, 7, 3.0)
    assert np.array_equal(x1, x2) and r1.tobytes() == r2.tobytes()


def test_every_kernel_of_a_whole_flight_runs_on_its_compiled_entry_point():
    """numba is pinned to the range whose internals bind() uses; a newer numba that lost them fails here."""
    from fsw.executive.clock import SimClock
    from fsw.topology import build_flight
    from hal.sim import SimBackend
    from sims.runner import flight_overrides
    from sims.scenario import load_scenario
    from sims.truth import Truth

    sc = load_scenario("final_approach")
    truth = Truth(sc)
    flight = build_flight(SimBackend(truth), SimClock(sc.minor_frame_ns), lambda packet: None,
                          overrides=flight_overrides(sc), post_frame=lambda t_ns: truth.step())
    flight.executive.run(until_ns=1_000_000_000)
    assert dispatch.FAST_PATH_LOST == {}
