"""Log-linear timing histogram: bin layout, percentile accuracy against numpy, bounded memory."""

import numpy as np
import pytest

from fsw.executive import Executive, Schedule, ScheduleEntry, SimClock
from fsw.executive.stats import N_BINS, SUB_BITS, LogHistogram, bin_bounds, bin_index, relative_error_bound


def test_small_values_have_exact_bins():
    for v in range(2 ** (SUB_BITS + 1)):
        assert bin_bounds(bin_index(v)) == (v, v + 1)


def test_every_value_falls_inside_its_bin():
    rng = np.random.default_rng(1)
    values = [0, 1, 31, 32, 33, 63, 64, 2**40, 2**63 - 1] + [int(v) for v in rng.integers(0, 2**62, 2000)]
    for v in values:
        lo, hi = bin_bounds(bin_index(v))
        assert lo <= v < hi


def test_bins_are_contiguous_and_cover_64_bit_values():
    for i in range(N_BINS - 1):
        assert bin_bounds(i)[1] == bin_bounds(i + 1)[0]
    assert bin_index(2**64 - 1) == N_BINS - 1


def test_bin_width_is_within_the_documented_relative_resolution():
    for i in range(2 ** (SUB_BITS + 1), N_BINS):
        lo, hi = bin_bounds(i)
        assert (hi - lo) / lo <= 2 * relative_error_bound()


@pytest.mark.parametrize("q", [50.0, 90.0, 99.0, 99.9])
def test_percentiles_match_numpy_within_bin_resolution(q):
    rng = np.random.default_rng(7)
    data = rng.lognormal(mean=np.log(50_000), sigma=0.8, size=20_000).astype(np.int64)  # ~50 us tasks
    h = LogHistogram()
    for v in data:
        h.record(int(v))
    truth = np.percentile(data, q, method="inverted_cdf")
    assert abs(h.percentile(q) - truth) <= relative_error_bound() * truth + 1


def test_count_sum_and_max_are_exact():
    h = LogHistogram()
    for v in (5, 1_000_003, 77):
        h.record(v)
    assert (h.count, h.total, h.max) == (3, 1_000_085, 1_000_003)


def test_percentile_never_exceeds_the_maximum():
    h = LogHistogram()
    h.record(1 << 20)  # the lower edge of its bin: the bin midpoint is above the only sample
    assert h.percentile(99.0) == 1 << 20


def test_empty_histogram_reports_zero():
    assert LogHistogram().percentiles(50.0, 99.0) == (0.0, 0.0)


def test_histogram_memory_is_bounded():
    h = LogHistogram()
    for v in range(0, 10**9, 997_001):
        h.record(v)
    assert len(h.counts) == N_BINS


def test_executive_inline_histogram_update_matches_bin_index(perf):
    rng = np.random.default_rng(3)
    costs = [int(c) for c in rng.integers(0, 5_000_000, 300)] + [0, 1, 31, 32, 33]

    class Varying:
        def __init__(self):
            self.k = 0

        def step(self, t_ns):
            perf.now += costs[self.k]
            self.k += 1

    ex = Executive(Schedule([ScheduleEntry("v", Varying(), 100, 0, 4_000)]), SimClock(), perf_ns=perf)
    ex.run(n_frames=len(costs))
    reference = LogHistogram()
    for c in costs:
        reference.record(c)
    st = ex.stats_by_task["v"]
    assert st.counts == reference.counts and st.max == reference.max and st.total == reference.total
