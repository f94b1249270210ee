"""The navigation-consistency harness (ground/nees.py, qz nees): its statistics against scipy and against seeded
synthetic estimators, the pairing of estimate and truth in a real SIL flight against an independent recording,
and the command line's refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ground.cli import main
from ground.nees import (
    CONTACT,
    GATES_M,
    NAV_TASK,
    NeesError,
    NeesProbe,
    check_gates,
    chi2_cdf,
    chi2_ppf,
    gate_label,
    gate_sample,
    gate_summary,
    nees,
    nees_bounds,
    nees_result,
    write_nees_outputs,
)
from ground.nees_series import outside_spans, series_json, series_markdown, series_summary
from sims.runner import run_sil

# ------------------------------------------------------------------------------------------------ statistics

DOFS = (1, 2, 3, 5, 6, 12, 30, 300, 600, 6000, 60000)
PROBS = (1e-4, 0.025, 0.3, 0.5, 0.975, 0.9999)


@pytest.mark.parametrize("dof", DOFS)
def test_chi2_quantiles_match_scipy(dof):
    stats = pytest.importorskip("scipy.stats")
    for p in PROBS:
        assert chi2_ppf(p, dof) == pytest.approx(stats.chi2.ppf(p, dof), rel=1e-11)


@pytest.mark.parametrize("dof", DOFS)
def test_chi2_cdf_matches_scipy_on_both_sides_of_its_branch(dof):
    stats = pytest.importorskip("scipy.stats")
    # the prefactor exp(a ln z - z - lgamma(a)) subtracts terms of size a ln a (a = dof/2): double rounding leaves
    # a relative error of a few eps times that (7e-11 at 60,000 dof, far below what the bounds need)
    a = dof / 2.0
    rel = 1e-12 + 8.0 * np.finfo(float).eps * a * max(1.0, math.log(a))
    for x in (1e-3 * dof, 0.5 * dof, dof - 1.0, dof + 2.0 + 1e-9, 1.5 * dof + 3.0, 3.0 * dof + 30.0):
        if x > 0:
            assert chi2_cdf(x, dof) == pytest.approx(stats.chi2.cdf(x, dof), rel=rel, abs=1e-15)


@pytest.mark.parametrize("runs", (1, 2, 10, 100, 1000))
def test_bounds_of_the_average_nees_are_the_scipy_quantiles_of_6n_over_n(runs):
    stats = pytest.importorskip("scipy.stats")
    lo, hi = nees_bounds(runs)
    assert lo == pytest.approx(stats.chi2.ppf(0.025, 6 * runs) / runs, rel=1e-11)
    assert hi == pytest.approx(stats.chi2.ppf(0.975, 6 * runs) / runs, rel=1e-11)


def test_nees_is_the_quadratic_form_of_the_inverse_covariance_single_and_batched():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(20, 6, 6))
    P = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(6)
    e = rng.normal(size=(20, 6))
    ref = np.einsum("ki,kij,kj->k", e, np.linalg.inv(P), e)
    np.testing.assert_allclose(nees(e, P), ref, rtol=1e-10)
    assert nees(e[3], P[3]) == pytest.approx(ref[3], rel=1e-10)


def test_nees_of_a_covariance_that_is_not_positive_definite_is_nan():
    P = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1e-9])
    assert math.isnan(nees(np.ones(6), P))
    batch = nees(np.ones((2, 6)), np.stack((np.eye(6), P)))
    assert batch[0] == pytest.approx(6.0) and math.isnan(batch[1])


def _synthetic_campaigns(rng, campaigns: int, runs: int, claimed_scale: float) -> np.ndarray:
    """Average NEES of ``campaigns`` campaigns of ``runs`` runs: each run's error drawn from N(0, P) with its own
    random P, the estimator claiming ``claimed_scale * P``."""
    A = rng.normal(size=(campaigns, runs, 6, 6))
    P = A @ A.transpose(0, 1, 3, 2) / 6.0 + 0.05 * np.eye(6)
    e = (np.linalg.cholesky(P) @ rng.normal(size=(campaigns, runs, 6, 1)))[..., 0]
    return nees(e, claimed_scale * P).mean(axis=1)


# 1,000 campaigns of 50 runs: the fraction inside a 95 % interval is binomial, sd sqrt(0.95 0.05 / 1000) = 0.0069;
# +- 4 sd (0.028) is the tolerance. The grand mean of 50,000 NEES has sd sqrt(12 / 50,000) = 0.0155; +- 4 sd too.
CAMPAIGNS, RUNS = 1000, 50


def test_a_consistent_estimator_lands_inside_the_bounds_at_the_expected_rate():
    avg = _synthetic_campaigns(np.random.default_rng(17), CAMPAIGNS, RUNS, 1.0)
    lo, hi = nees_bounds(RUNS)
    inside = np.mean((avg >= lo) & (avg <= hi))
    assert abs(inside - 0.95) <= 4.0 * math.sqrt(0.95 * 0.05 / CAMPAIGNS)
    assert abs(avg.mean() - 6.0) <= 4.0 * math.sqrt(12.0 / (CAMPAIGNS * RUNS))
    # the below / above split is symmetric too (each 2.5 %, binomial sd 0.0049)
    assert abs(np.mean(avg < lo) - 0.025) <= 4.0 * math.sqrt(0.025 * 0.975 / CAMPAIGNS)


def test_a_covariance_a_quarter_of_the_true_one_lands_above_the_bounds():
    # claimed P/4: the average NEES is 4 x 6 = 24 with sd 4 sqrt(12/50) = 2.0; the upper bound (8.5) is 8 sd below
    avg = _synthetic_campaigns(np.random.default_rng(18), CAMPAIGNS, RUNS, 0.25)
    assert np.all(avg > nees_bounds(RUNS)[1])


def test_a_covariance_four_times_the_true_one_lands_below_the_bounds():
    # claimed 4P: the average is 1.5 with sd 0.12; the lower bound (4.0) is 20 sd above
    avg = _synthetic_campaigns(np.random.default_rng(19), CAMPAIGNS, RUNS, 4.0)
    assert np.all(avg < nees_bounds(RUNS)[0])


def _sample(v: float, crossed: int = 1) -> dict:
    return {"nees": v, "nees_r": v / 2, "nees_v": v / 2, "crossed": crossed, "range_m": 10.0, "t_s": 1.0,
            "valid": 1, "dt_truth_ns": 0, "e_r_m": [1.0, 0.0, 0.0], "e_v_mps": [0.0, 0.0, 0.0],
            "sigma_r_m": [1.0, 1.0, 1.0], "sigma_v_mps": [1.0, 1.0, 1.0]}


def test_gate_summary_averages_crossings_only_and_names_the_verdict():
    rows = [_sample(6.0)] * 9 + [_sample(0.001, crossed=0), _sample(float("nan")), None]
    s = gate_summary(rows)
    assert s["n"] == 9 and s["started_inside"] == 1 and s["not_positive_definite"] == 1 and s["missing"] == 1
    assert s["mean_nees"] == pytest.approx(6.0) and s["inside"] and s["bounds"] == list(nees_bounds(9))
    assert gate_summary([_sample(60.0)] * 9)["verdict"].startswith("above")
    assert gate_summary([_sample(0.6)] * 9)["verdict"].startswith("below")


@pytest.mark.parametrize(("gates", "tail"), [(GATES_M, ""), ((400.0, 20.0), " --gates 400,20"),
                                              ((1234.5678901, 20.0), " --gates 1234.5678901,20")])
def test_the_reproduce_command_names_the_gates_unless_they_are_the_default(gates, tail):
    row = {"case": 0, "seed": 1, "stop_reason": "docked", "nees.resets": 0, "nees.contact_reason": "contact"}
    result = nees_result([row], gates, scenario="final_approach", campaign_seed=7)
    assert result["reproduce"] == "qz nees final_approach --runs 1 --seed 7" + tail
    assert result["gate_labels"] == [gate_label(g) for g in gates] + [CONTACT]


def test_gates_whose_names_coincide_are_refused():
    with pytest.raises(NeesError, match="first 6 digits"):
        check_gates([400.0, 399.99999999])


# ------------------------------------------------------------------------------------------------ a real flight


class _Recorder:
    """An independent recording beside the probe: after every frame in which navigation stepped (its own output
    counter, not the probe's), the truth's relative state keyed by the truth's own clock, and the filter's own time
    stamp, state and covariance. Like the probe, it looks after the frame, outside the executive's timed calls: work
    inside them counts against the tasks' budgets, and on a slow host it made an overrun storm that held the
    flight short of the port."""

    def __init__(self, probe: NeesProbe):
        self.probe = probe
        self.truth_at: dict[int, tuple] = {}
        self.range_at: dict[int, float] = {}
        self.nav: list[tuple] = []
        self.steps = 0  # frames in which navigation stepped, by its output counter

    def attach(self, flight, truth):
        self.probe.attach(flight, truth)
        self.app = flight.apps[NAV_TASK]
        self.flt = self.app.flt[0]
        self.truth = truth
        self.seq = int(self.app.out["seq"])
        self.stats = flight.executive.stats_by_task[NAV_TASK]

    def after_frame(self, t_ns):
        self.probe.after_frame(t_ns)
        if int(self.app.out["seq"]) == self.seq:
            return
        self.seq = int(self.app.out["seq"])
        self.steps += 1
        self.truth_at[self.truth.t_ns] = self.truth.reference_state()
        self.range_at[self.truth.t_ns] = self.truth.range_m()
        if self.app.initialised:
            self.nav.append((int(self.flt["t_prev_ns"]), self.flt["x"].copy(), self.flt["P"].copy()))


EVERY_S = 60.0  # the flown probe's series (qz nees --every)


@pytest.fixture(scope="module")
def flown(tmp_path_factory):
    """final_approach (the 400 m hold to docking, undispersed: it starts 403 m out) with the probe (its series
    every 60 s) and the recorder: ~2,700 s of mission time, a few seconds of CPU."""
    probe = NeesProbe(GATES_M, every_s=EVERY_S)
    rec = _Recorder(probe)
    summary = run_sil("final_approach", tmp_path_factory.mktemp("nees") / "run", progress=False, observer=rec,
                      keep_telemetry=False)
    return probe, rec, summary


def test_the_flight_docks_and_every_gate_has_a_sample(flown):
    probe, rec, summary = flown
    assert summary["docking"]["captured"] and probe.contact_reason == "contact"
    # the look after each frame saw every navigation step the executive dispatched, and each only once
    assert rec.steps == rec.stats.calls > 1000
    assert set(probe.samples) == {gate_label(g) for g in GATES_M} | {CONTACT}
    # the run starts inside 50 km and 5 km: those are flagged, not crossings
    assert [probe.samples[lb]["crossed"] for lb in ("50km", "5km", "400m", "20m", CONTACT)] == [0, 0, 1, 1, 1]


def test_the_nees_at_each_gate_equals_a_recomputation_from_the_recording_at_the_same_time_stamp(flown):
    probe, rec, _ = flown
    by_t = {t: (x, P) for t, x, P in rec.nav}
    for label, s in probe.samples.items():
        t_ns = int(round(s["t_s"] * 1e9))
        x, P = by_t[t_ns]
        r, v = rec.truth_at[t_ns]  # the truth at the filter's own time stamp
        e = np.concatenate((x[:3] - r, x[3:6] - v))
        P6 = P[:6, :6]
        assert s["nees"] == pytest.approx(e @ np.linalg.inv(P6) @ e, rel=1e-9), label
        assert s["nees_r"] == pytest.approx(e[:3] @ np.linalg.inv(P6[:3, :3]) @ e[:3], rel=1e-9), label
        np.testing.assert_allclose(s["e_r_m"], e[:3], rtol=0, atol=1e-12)
        np.testing.assert_allclose(s["sigma_v_mps"], np.sqrt(np.diag(P6)[3:]), rtol=1e-12)
        assert s["dt_truth_ns"] == 0 and s["n_states"] == x.shape[0]


def test_each_range_gate_is_the_first_navigation_step_with_the_true_range_below_it(flown):
    probe, rec, _ = flown
    times = sorted(t for t, _, _ in rec.nav)
    for gate in (400.0, 20.0):
        first = next(t for t in times if np.linalg.norm(rec.truth_at[t][0]) < gate)
        assert int(round(probe.samples[gate_label(gate)]["t_s"] * 1e9)) == first


def test_the_contact_sample_is_the_last_navigation_step_before_the_truths_contact(flown):
    probe, rec, summary = flown
    t_contact = summary["docking"]["time_s"]
    t = probe.samples[CONTACT]["t_s"]
    later = [tn * 1e-9 for tn, _, _ in rec.nav if tn * 1e-9 > t]
    assert t < t_contact <= later[0]


def test_the_series_is_the_first_navigation_step_at_or_after_each_multiple_of_every_s(flown):
    """One sample per 60 s of mission time from the filter's initialisation to contact, each at the first step
    the independent recording has at or after its multiple, its NEES recomputed from that recording."""
    probe, rec, summary = flown
    times = np.array(sorted(t for t, _, _ in rec.nav)) * 1e-9
    want = [times[times >= k * EVERY_S][0] for k in range(int(times[-1] // EVERY_S) + 1)
            if np.any((times >= k * EVERY_S) & (times < (k + 1) * EVERY_S))]
    got = [s[0] for s in probe.series]
    assert len(got) > 40 and got == pytest.approx(want, abs=1e-12)
    assert got[-1] < summary["docking"]["time_s"]
    by_t = {t: (x, P) for t, x, P in rec.nav}
    for t_s, rng, n, n_r, n_v in probe.series[::7]:
        t_ns = int(round(t_s * 1e9))
        x, P = by_t[t_ns]
        r, v = rec.truth_at[t_ns]
        e = np.concatenate((x[:3] - r, x[3:6] - v))
        assert n == pytest.approx(e @ np.linalg.inv(P[:6, :6]) @ e, rel=1e-9)
        assert n_r == pytest.approx(e[:3] @ np.linalg.inv(P[:3, :3]) @ e[:3], rel=1e-9)
        assert n_v == pytest.approx(e[3:] @ np.linalg.inv(P[3:6, 3:6]) @ e[3:], rel=1e-9)
        assert rng == rec.range_at[t_ns]  # the truth's range, chaser CoM to the port, at the same time stamp


def _series_row(case: int, samples: list[tuple]) -> dict:
    return {"case": case, "nees.every_s": 10.0, "nees.series": series_json(samples)}


def test_the_series_averages_each_instant_over_the_runs_that_have_a_finite_sample_there():
    """Instant k holds the samples of [10 k, 10 k + 10) s: run 0 has three, run 1 two (it ended), run 2 a
    non-positive-definite one (NaN) at 20 s. Each average is judged against the bounds of its own number of
    runs."""
    rows = [_series_row(0, [(0.1, 500.0, 6.0, 3.0, 3.0), (10.1, 400.0, 30.0, 15.0, 15.0), (20.2, 300.0, 1.0, .5, .5)]),
            _series_row(1, [(0.2, 520.0, 8.0, 4.0, 4.0), (10.0, 410.0, 40.0, 20.0, 20.0)]),
            _series_row(2, [(20.05, 290.0, float("nan"), 1.0, 1.0)]),
            {"case": 3, "error": "raised"}]
    s = series_summary(rows, 10.0, 0.95)
    assert s["t_s"] == [0.0, 10.0, 20.0] and s["runs"] == [2, 2, 1]
    assert s["mean_nees"] == pytest.approx([7.0, 35.0, 1.0]) and s["mean_nees_v"] == pytest.approx([3.5, 17.5, 0.5])
    assert s["median_range_m"] == pytest.approx([510.0, 405.0, 300.0])
    assert s["bounds"] == [list(nees_bounds(2)), list(nees_bounds(2)), list(nees_bounds(1))]
    assert s["verdict"] == ["inside", "above", "below"]  # one run's 1.0 is under chi-square(6)'s 2.5 % quantile
    assert outside_spans(s) == [("above", 10.0, 10.0), ("below", 20.0, 20.0)]
    text = series_markdown(s)
    assert "3 instants, 1 above the bounds (optimistic), 1 below" in text and "in a row" not in text


def test_spans_outside_join_consecutive_instants_of_one_side_only():
    s = {"every_s": 100.0, "t_s": [0.0, 100.0, 200.0, 300.0, 500.0, 600.0],
         "verdict": ["below", "below", "above", "inside", "below", "below"]}
    assert outside_spans(s) == [("below", 0.0, 100.0), ("above", 200.0, 200.0), ("below", 500.0, 600.0)]
    assert "0-100 s below, 500-600 s below" in series_markdown({**s, "mean_nees": [0.0] * 6})


def test_the_outputs_of_a_campaign_of_rows_read_back(flown, tmp_path):
    probe, _, _ = flown
    row = {"case": 0, "seed": 1, "stop_reason": "docked", **probe.row()}
    assert gate_sample(row, "20m")["nees"] == probe.samples["20m"]["nees"]
    result = nees_result([row, {**row, "case": 1}], scenario="final_approach", campaign_seed=400, every_s=EVERY_S)
    assert result["summary"]["20m"]["n"] == 2 and result["summary"]["50km"]["started_inside"] == 2
    assert result["reproduce"].endswith(" --every 60") and result["series"]["runs"][0] == 2
    paths = write_nees_outputs(tmp_path, result)
    assert [p.name for p in paths[5:]] == ["nees_time.csv", "nees_time.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert json.loads(paths[0].read_text())["summary"]["20m"]["mean_nees"] == probe.samples["20m"]["nees"]
    assert len(paths[1].read_text().splitlines()) == 1 + 2 * 5
    assert len(paths[5].read_text().splitlines()) == 1 + len(probe.series)
    assert "NEES through time (`--every 60`)" in (tmp_path / "nees.md").read_text()


def test_a_campaign_too_short_to_cross_a_gate_or_sample_the_series_still_writes_every_output(tmp_path):
    """Runs that started inside 50 km and stopped before any other gate, with an empty series (the filter not
    initialised yet at the end): the figures have nothing to draw on their log axes, and are written empty."""
    probe = NeesProbe(GATES_M, every_s=10.0)
    probe.samples["50km"] = {**_sample(5.0, crossed=0), "range_est_m": 10.0, "sensor": 1, "n_states": 21,
                             "resets": 0}
    row = {"case": 0, "seed": 1, "stop_reason": "duration", **probe.row()}
    result = nees_result([row], scenario="far_approach", campaign_seed=1, every_s=10.0)
    assert result["summary"]["50km"]["started_inside"] == 1 and result["series"]["t_s"] == []
    paths = write_nees_outputs(tmp_path, result)
    assert [p.name for p in paths] == ["nees.json", "nees.csv", "nees.md", "nees.png", "nees_errors.png",
                                       "nees_time.csv", "nees_time.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_a_nees_case_flies_the_campaign_case_unchanged_and_adds_its_gates():
    """The worker function of qz nees against qz mc's on the same case (dispersions, seed): every column of the
    campaign row is the same (the probe does not perturb the flight), plus the nees.* columns."""
    from ground.campaign import case_spec, rows_equal, run_case
    from ground.nees import nees_case

    spec = case_spec("final_approach", 400, 3, duration_s=240.0)
    ours, theirs = nees_case(spec), run_case(spec)
    assert rows_equal({k: v for k, v in ours.items() if not k.startswith("nees.")}, theirs) == []
    assert ours["nees.gates"] == "50000 5000 400 20 contact" and ours["nees.contact_reason"] == "no contact"
    assert ours["nees.50km.crossed"] == 0 and math.isfinite(ours["nees.50km.nees"])


# ------------------------------------------------------------------------------------------------ the command line


def _refused(capsys, argv, expect: str) -> None:
    code = main(["nees", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("qz nees: error:") and expect in err[0], err


@pytest.mark.parametrize(("argv", "expect"), [
    (["--runs", "0"], "argument --runs"),
    (["--runs", "ten"], "argument --runs"),
    (["--seed", "-1"], "argument --seed"),
    (["--workers", "0"], "argument --workers"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not allowed with argument --workers"),
    (["--duration", "nan"], "argument --duration"),
    (["--every", "0"], "argument --every"),
    (["--every", "nan"], "argument --every"),
    (["no_such_scenario"], "no_such_scenario"),
    (["thermal_hot"], "has no [dispersions]"),
])
def test_bad_options_are_refused_in_one_line_before_the_disk_is_touched(capsys, tmp_path, argv, expect):
    out = tmp_path / "nees"
    _refused(capsys, [*argv, "--out", str(out)], expect)
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused_and_kept(capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("keep")
    _refused(capsys, ["--runs", "2", "--out", str(f)], "is a file")
    assert f.read_text() == "keep"


def test_a_folder_holding_a_monte_carlo_campaign_without_nees_is_refused_untouched(capsys, tmp_path):
    out = tmp_path / "mc"
    out.mkdir()
    (out / "campaign.json").write_text(json.dumps({"scenario": "far_approach", "seed": 1}))
    (out / "cases.jsonl").write_text(json.dumps({"case": 0, "captured": True, "error": None}) + "\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _refused(capsys, ["--runs", "2", "--out", str(out)], "without NEES")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_holding_nees_rows_of_other_gates_is_refused(capsys, tmp_path):
    out = tmp_path / "nees"
    out.mkdir()
    (out / "campaign.json").write_text(json.dumps({"scenario": "far_approach", "seed": 1}))
    (out / "cases.jsonl").write_text(json.dumps({"case": 0, "error": None, "nees.gates": "300 contact"}) + "\n")
    _refused(capsys, ["--runs", "2", "--out", str(out)], "of gates '300 contact'")


def test_a_folder_holding_nees_rows_flown_with_another_every_is_refused(capsys, tmp_path):
    out = tmp_path / "nees"
    out.mkdir()
    (out / "campaign.json").write_text(json.dumps({"scenario": "far_approach", "seed": 1}))
    gates = " ".join([f"{g:g}" for g in GATES_M] + [CONTACT])
    (out / "cases.jsonl").write_text(json.dumps({"case": 0, "error": None, "nees.gates": gates}) + "\n")
    _refused(capsys, ["--runs", "2", "--every", "100", "--out", str(out)], "flown with no --every, not --every 100")
    (out / "cases.jsonl").write_text(json.dumps({"case": 0, "error": None, "nees.gates": gates,
                                                 "nees.every_s": 50.0}) + "\n")
    _refused(capsys, ["--runs", "2", "--out", str(out)], "flown with --every 50, not none")


@pytest.mark.parametrize("every", [0.0, -1.0, float("inf"), "ten"])
def test_a_probe_refuses_an_every_that_is_not_seconds_above_zero(every):
    with pytest.raises(NeesError, match="every_s: a number of seconds above 0"):
        NeesProbe(GATES_M, every_s=every)


def test_gates_must_decrease(tmp_path):
    with pytest.raises(NeesError, match="decreasing order"):
        NeesProbe((400.0, 5000.0))
