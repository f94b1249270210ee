"""Monte Carlo campaigns: dispersion draws, Dask execution, resume, retries, rerun of a case, statistics."""

from __future__ import annotations

import json
import os
import sys

import cloudpickle
import numpy as np
import pytest

from ground.campaign import (
    CONTACT_COLUMNS,
    CampaignError,
    RowLog,
    case_outcome,
    case_seed,
    case_spec,
    draw_dispersions,
    error_row,
    read_rows,
    rerun_case,
    row_from_summary,
    run_campaign,
    summarise,
    time_to_docking_figure,
    wilson_interval,
    write_outputs,
)
from sims.scenario import load_scenario

# the fake case functions below travel to the Dask workers by value (the workers cannot import this file)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SCENARIO = "final_approach"
SHORT_S = 20.0  # [s] mission time per real case: enough to fly the flight software, well under a minute in all


@pytest.fixture(scope="module")
def scheduler():
    """One local Dask cluster (2 single-threaded worker processes) shared by the tests, by address."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO)


def fake_row(spec: dict) -> dict:
    """A row without flying: captured for even cases."""
    return {"case": spec["case"], "campaign_seed": spec["campaign_seed"], "seed": case_seed(spec["campaign_seed"],
            spec["case"]), "stop_reason": "docked", "captured": spec["case"] % 2 == 0, "contact": False,
            "error": None}


# ---------------------------------------------------------------------------------------------- draws


def test_dispersion_draws_are_identical_for_the_same_seed_and_case(scenario):
    assert draw_dispersions(scenario, 7, 3) == draw_dispersions(scenario, 7, 3)
    assert case_seed(7, 3) == case_seed(7, 3)


def test_dispersion_draws_differ_between_cases_and_seeds(scenario):
    base = draw_dispersions(scenario, 7, 3)[1]
    assert draw_dispersions(scenario, 7, 4)[1] != base
    assert draw_dispersions(scenario, 8, 3)[1] != base
    assert len({case_seed(7, c) for c in range(100)}) == 100


def test_adding_a_dispersion_leaves_the_other_draws_unchanged(scenario):
    extra = load_scenario(SCENARIO, overrides={"dispersions": {"extra_propellant": {
        "path": "vehicle.mass.propellant_kg", "kind": "normal", "sigma": 10.0}}})
    before = draw_dispersions(scenario, 7, 3)[1]
    after = draw_dispersions(extra, 7, 3)[1]
    assert "disp.extra_propellant" in after
    assert {k: after[k] for k in before} == before


def test_dispersion_overrides_load_as_a_valid_scenario_with_the_drawn_values(scenario):
    overrides, draws = draw_dispersions(scenario, 1, 0)
    sc = load_scenario(SCENARIO, overrides=overrides)
    assert sc.vehicle.mass.cargo_kg == draws["disp.cargo_mass"]
    assert list(sc.chaser.r_LVLH_m) == [draws[f"disp.initial_position[{i}]"] for i in range(3)]


def test_uniform_draws_stay_in_bounds_and_normal_draws_have_the_table_sigma(scenario):
    table = scenario.dispersions
    n = 400
    cargo = np.array([draw_dispersions(scenario, 5, c)[1]["disp.cargo_mass"] for c in range(n)])
    pos = np.array([[draw_dispersions(scenario, 5, c)[1][f"disp.initial_position[{i}]"] for i in range(3)]
                    for c in range(n)])
    assert table["cargo_mass"]["lo"] <= cargo.min() and cargo.max() <= table["cargo_mass"]["hi"]
    nominal = np.asarray(scenario.chaser.r_LVLH_m)
    sigma = np.asarray(table["initial_position"]["sigma"])
    np.testing.assert_allclose(pos.std(axis=0, ddof=1), sigma, rtol=0.15)  # 400 draws: std error ~3.5 %
    np.testing.assert_allclose(pos.mean(axis=0), nominal, atol=4 * sigma.max() / np.sqrt(n))


# ---------------------------------------------------------------------------------------------- statistics


def test_wilson_interval_matches_newcombe_1998():
    lo, hi = wilson_interval(81, 263)  # Newcombe (1998), Stat. Med. 17, example: 0.2553 - 0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10)[1] == 1.0


def test_summary_judges_mean_plus_3_sigma_against_each_limit(scenario):
    rows = [{"case": i, "captured": True, "contact": True, "axial_rate_mps": v, "lateral_rate_mps": 0.0,
             "lateral_misalignment_m": m, "pitch_deg": 0.0, "yaw_deg": 0.0, "roll_deg": 0.0, "rate_x_deg_s": 0.0,
             "rate_y_deg_s": 0.0, "rate_z_deg_s": 0.0, "propellant_used_kg": 1.0, "mission_time_s": 100.0}
            for i, (v, m) in enumerate([(0.10, 0.01), (0.11, 0.05), (0.12, 0.15)])]
    s = summarise(rows, scenario.docking.limits, {"scenario": SCENARIO, "seed": 1, "duration_s": None})
    mis = s["contact_quantities"]["lateral_misalignment_m"]
    values = np.array([0.01, 0.05, 0.15])
    assert mis["mean"] == pytest.approx(values.mean())
    assert mis["mean_plus_3sigma"] == pytest.approx(values.mean() + 3 * values.std(ddof=1))
    assert mis["within_limit_3sigma"] is False  # 0.07 + 3 * 0.072 > 0.16
    assert s["contact_quantities"]["pitch_deg"]["within_design_3sigma"] is True
    axial = s["contact_quantities"]["axial_rate_mps"]  # 0.11 +- 3 * 0.01: inside 0.08 .. 0.18, not 0.08 .. 0.12
    assert axial["within_limit_3sigma"] is True and axial["within_design_3sigma"] is False
    assert s["capture_rate"] == 1.0 and s["cases"] == 3


def test_axial_rate_design_target_is_the_profile_contact_speed_band(scenario):
    rows = [{"case": i, "captured": True, "contact": True, "axial_rate_mps": v} for i, v in
            enumerate([0.099, 0.100, 0.101, 0.100])]
    s = summarise(rows, scenario.docking.limits, {"scenario": SCENARIO, "seed": 1, "duration_s": None})
    axial = s["contact_quantities"]["axial_rate_mps"]
    assert axial["design"] == pytest.approx([0.08, 0.12])  # gnc.toml contact speed 0.10 +- 0.02 (docs/reference.md)
    assert axial["within_design_3sigma"] is True


# ---------------------------------------------------------------------------------------------- reports

META = {"scenario": SCENARIO, "seed": 1, "duration_s": None}
ENDINGS = {  # rows of cases that did not dock, as row_from_summary writes them
    "held": {"captured": False, "contact": False, "stop_reason": "duration", "final_mode": "HOLD",
             "final_range_m": 412.0, "fdir_fired": "att_error_hold x1", "contact_time_s": None},
    "cam": {"captured": False, "contact": False, "stop_reason": "duration", "final_mode": "CAM", "aborted": True,
            "cam_trigger": "NAV_INVALID", "final_range_m": 3500.0, "contact_time_s": None},
}


def _row(case: int, **changes) -> dict:
    """A docked case's row (contact 1 s later per case number), with ``changes``."""
    row = {"case": case, "campaign_seed": 1, "seed": case_seed(1, case), "scenario": SCENARIO,
           "stop_reason": "docked", "captured": True, "contact": True, "collided": False, "failed_limits": "",
           "contact_time_s": 2000.0 + case, "aborted": False, "cam_trigger": "NONE", "final_mode": "DOCKED",
           "final_range_m": 3.0, "fdir_fired": "", "error": None, "propellant_used_kg": 4.0,
           "mission_time_s": 2010.0 + case, **{c: 0.01 for c in CONTACT_COLUMNS}, "axial_rate_mps": 0.1}
    row.update(changes)
    return row


def _campaign_rows() -> list[dict]:
    return [_row(c) for c in range(20)] + [_row(20, **ENDINGS["held"]), _row(21, **ENDINGS["cam"])]


def test_a_case_that_did_not_dock_says_how_it_ended_and_why():
    outcome, reason = case_outcome(_row(1, **ENDINGS["held"]))
    assert outcome == "held"
    assert {"stop: duration", "final mode HOLD", "final range 412 m", "FDIR: att_error_hold x1"} <= set(
        reason.split("; "))
    outcome, reason = case_outcome(_row(2, **ENDINGS["cam"]))
    assert outcome == "CAM" and "CAM trigger NAV_INVALID" in reason
    assert case_outcome(_row(3)) == ("docked", "")
    assert case_outcome(_row(4, captured=False, collided=True))[0] == "COLLISION"
    assert case_outcome(error_row(case_spec(SCENARIO, 1, 5), RuntimeError("refused\ntraceback"))) == (
        "error", "RuntimeError: refused")


def test_a_row_keeps_the_fdir_responses_and_the_final_range_of_its_run():
    summary = {"scenario": SCENARIO, "stop_reason": "duration", "final_mode": "HOLD", "docking": {}, "guidance": {},
               "fdir": {"fired": {"att_error_hold": 2}}, "final_relative_state": {"r_LVLH_m": [3.0, -400.0, 0.0]}}
    row = row_from_summary(case_spec(SCENARIO, 1, 0), 7, summary, {})
    assert row["fdir_fired"] == "att_error_hold x2"
    assert row["final_range_m"] == pytest.approx(np.hypot(3.0, 400.0))


def test_summary_lists_every_case_that_did_not_dock_and_the_time_to_docking(scenario):
    s = summarise(_campaign_rows(), scenario.docking.limits, META)
    assert s["outcomes"] == {"docked": 20, "held": 1, "CAM": 1}
    assert [(b["case"], b["outcome"]) for b in s["not_docked"]] == [(20, "held"), (21, "CAM")]
    assert s["capture_rate_wilson95"] == list(wilson_interval(20, 22))
    ttd = s["time_to_docking_s"]
    t = 2000.0 + np.arange(20)  # the docked cases only
    assert (ttd["n"], ttd["min"], ttd["max"]) == (20, 2000.0, 2019.0)
    for q in (5, 50, 95):
        assert ttd[f"p{q}"] == pytest.approx(np.percentile(t, q))


def test_time_to_docking_histogram_counts_the_docked_cases_and_marks_the_percentiles(scenario):
    rows = _campaign_rows()
    s = summarise(rows, scenario.docking.limits, META)
    fig = time_to_docking_figure(rows, s)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 20
    assert [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_gid() == "p50"] == [s["time_to_docking_s"]["p50"]]
    assert "[s]" in ax.get_xlabel() and ax.get_ylabel()


def test_campaign_folder_gets_an_index_with_capture_rate_outcomes_plots_and_reruns(tmp_path, scenario):
    out = tmp_path / "mc"
    out.mkdir()
    (out / "campaign.json").write_text(json.dumps({**META, "dispersions": {}, "runs": 22}))
    log = RowLog(out)
    for row in _campaign_rows():
        log.append(row)
    log.close()
    s = write_outputs(out, scenario)
    page = (out / "index.html").read_text()
    lo, hi = s["capture_rate_wilson95"]
    assert "Capture 20 of 22 (90.91 %)" in page and f"Wilson 95 % interval {100 * lo:.2f} - {100 * hi:.2f} %" in page
    assert "final range 412 m" in page and "CAM trigger NAV_INVALID" in page
    for case in range(22):
        assert f"qz mc --out {out} --rerun {case}</code>" in page
    for name in ("contact_scatter", "histograms", "time_to_docking"):
        assert f"src='plots/{name}.png'" in page and (out / "plots" / f"{name}.png").stat().st_size > 0
    assert f"{s['time_to_docking_s']['p50']:.0f} s" in page
    md = (out / "summary.md").read_text()
    assert "The 2 case(s) that did not dock" in md and "| 21 |" in md


# ---------------------------------------------------------------------------------------------- Dask


def test_rerun_of_a_case_reproduces_its_campaign_row_exactly(tmp_path, scheduler):
    out = tmp_path / "mc"
    s = run_campaign(SCENARIO, 3, out, seed=11, scheduler=scheduler, duration_s=SHORT_S, progress=False)
    assert s["cases"] == 3 and s["errors"] == 0
    stored = read_rows(out)
    row, old, diff = rerun_case(out, 1)
    assert old == stored[1]
    assert diff == []
    assert row["seed"] == case_seed(11, 1) and row["mission_time_s"] == SHORT_S
    run_dir = out / "rerun" / "case-00001"
    assert (run_dir / "telemetry.ccsds").stat().st_size > 0
    assert (run_dir / "report.html").is_file()
    assert {p.name for p in out.iterdir()} >= {"cases.jsonl", "cases.csv", "summary.json", "summary.md", "plots"}


def test_resume_flies_only_the_cases_not_yet_finished(tmp_path, scheduler):
    out = tmp_path / "mc"
    first = run_campaign(SCENARIO, 3, out, seed=2, scheduler=scheduler, progress=False, case_fn=fake_row)
    assert first["run"]["submitted"] == 3
    second = run_campaign(SCENARIO, 5, out, seed=2, scheduler=scheduler, progress=False, case_fn=fake_row)
    assert (second["run"]["skipped"], second["run"]["submitted"]) == (3, 2)
    assert sorted(read_rows(out)) == [0, 1, 2, 3, 4]
    assert len((out / "cases.jsonl").read_text().splitlines()) == 5
    assert second["captured"] == 3  # cases 0, 2, 4


def test_a_torn_last_row_is_flown_again(tmp_path, scheduler):
    out = tmp_path / "mc"
    run_campaign(SCENARIO, 2, out, seed=2, scheduler=scheduler, progress=False, case_fn=fake_row)
    lines = (out / "cases.jsonl").read_text().splitlines()
    (out / "cases.jsonl").write_text(lines[0] + "\n" + lines[1][:10])  # killed in the middle of a write
    s = run_campaign(SCENARIO, 2, out, seed=2, scheduler=scheduler, progress=False, case_fn=fake_row)
    assert s["run"]["submitted"] == 1 and sorted(read_rows(out)) == [0, 1]


def test_a_worker_that_dies_loses_only_its_case_which_runs_again(tmp_path, scheduler):
    marker = tmp_path / "died-once"

    def dies_once_on_case_1(spec):
        if spec["case"] == 1 and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies mid-case
        return fake_row(spec)

    out = tmp_path / "mc"
    s = run_campaign(SCENARIO, 4, out, seed=3, scheduler=scheduler, progress=False, case_fn=dies_once_on_case_1)
    assert marker.exists()
    assert s["errors"] == 0 and sorted(read_rows(out)) == [0, 1, 2, 3]


def test_a_case_that_keeps_raising_is_stored_as_an_error_and_can_be_retried(tmp_path, scheduler):
    flag = tmp_path / "broken"
    flag.touch()

    def raises_while_flagged(spec):
        if spec["case"] == 0 and flag.exists():
            raise RuntimeError("dispersed case refused")
        return fake_row(spec)

    out = tmp_path / "mc"
    s = run_campaign(SCENARIO, 2, out, seed=4, scheduler=scheduler, retries=1, progress=False,
                     case_fn=raises_while_flagged)
    rows = read_rows(out)
    assert s["errors"] == 1 and rows[0]["stop_reason"] == "error" and "refused" in rows[0]["error"]
    assert s["captured"] == 0  # an error counts as not captured
    flag.unlink()
    s = run_campaign(SCENARIO, 2, out, seed=4, scheduler=scheduler, progress=False, retry_errors=True,
                     case_fn=raises_while_flagged)
    assert s["run"]["submitted"] == 1 and s["errors"] == 0 and read_rows(out)[0]["error"] is None


def test_resuming_with_another_seed_is_refused(tmp_path, scheduler):
    out = tmp_path / "mc"
    run_campaign(SCENARIO, 1, out, seed=5, scheduler=scheduler, progress=False, case_fn=fake_row)
    with pytest.raises(CampaignError, match="different seed"):
        run_campaign(SCENARIO, 1, out, seed=6, scheduler=scheduler, progress=False, case_fn=fake_row)


def test_outputs_hold_one_row_per_case_in_csv_and_parquet(tmp_path, scheduler):
    out = tmp_path / "mc"
    run_campaign(SCENARIO, 3, out, seed=2, scheduler=scheduler, progress=False, case_fn=fake_row)
    lines = (out / "cases.csv").read_text().splitlines()
    assert lines[0].startswith("case,") and len(lines) == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cases"] == 3 and len(summary["capture_rate_wilson95"]) == 2
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.read_table(out / "cases.parquet").column("case").to_pylist() == [0, 1, 2]


# ---------------------------------------------------------------------------------------------- CLI


def test_qz_mc_rerun_without_a_campaign_or_scenario_exits_2(tmp_path, capsys):
    from ground.cli import main

    assert main(["mc", "--rerun", "0", "--out", str(tmp_path / "nothing")]) == 2
    assert "no campaign there" in capsys.readouterr().err


def test_qz_mc_without_runs_exits_2(tmp_path, capsys):
    from ground.cli import main

    assert main(["mc", "--out", str(tmp_path)]) == 2
    assert "--runs is required" in capsys.readouterr().err


def test_campaign_rows_are_plain_json(tmp_path):
    # rows cross process boundaries and files: only JSON types, and floats that read back exactly
    sc = load_scenario(SCENARIO)
    _, draws = draw_dispersions(sc, 9, 9)
    assert json.loads(json.dumps(draws)) == draws
    assert all(isinstance(v, float) for v in draws.values())

