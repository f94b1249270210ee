"""CUC 4+2 time code: truncation of flight time [ns] to 1/65536 s and its inverse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tlm_strategies import times_ns

from telemetry.headers import CUC_FINE_PER_S, NS_PER_S, cuc_to_t_ns, t_ns_to_cuc

FINE_TICK_NS = NS_PER_S / CUC_FINE_PER_S  # 15258.789... ns


def test_half_second_is_fine_count_32768():
    assert t_ns_to_cuc(7_500_000_000) == (7, 32768)


def test_fine_part_truncates_rather_than_rounds():
    # 15258 ns is just short of one fine tick (15258.79 ns): still tick 0
    assert t_ns_to_cuc(15_258) == (0, 0)


def test_one_fine_tick_decodes_to_its_first_nanosecond():
    assert cuc_to_t_ns(0, 1) == 15_259


def test_last_nanosecond_of_a_second_stays_in_that_second():
    assert t_ns_to_cuc(NS_PER_S - 1) == (0, CUC_FINE_PER_S - 1)


@given(times_ns)
def test_decoded_time_is_never_after_flight_time_and_within_one_tick(t_ns):
    back = cuc_to_t_ns(*t_ns_to_cuc(t_ns))
    assert 0 <= t_ns - back < FINE_TICK_NS


@given(st.integers(0, 2**32 - 1), st.integers(0, CUC_FINE_PER_S - 1))
def test_cuc_round_trips_exactly_through_nanoseconds(seconds, fine):
    assert t_ns_to_cuc(cuc_to_t_ns(seconds, fine)) == (seconds, fine)
