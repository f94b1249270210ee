"""Monte Carlo campaigns refuse before touching the disk: folders that are not theirs, shrinking, no dispersions."""

from __future__ import annotations

import json
import time

import pytest

from ground import campaign
from ground.campaign import META_FILE, CampaignError, run_campaign


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*"))


def _never(spec):
    raise AssertionError("no case may fly")


def _campaign_folder(out, runs, seed=5):
    from sims.scenario import load_scenario

    sc = load_scenario("final_approach")
    out.mkdir()
    (out / META_FILE).write_text(json.dumps(campaign.campaign_meta("final_approach", seed, None, sc, runs)))
    (out / campaign.ROWS_FILE).write_text("".join(json.dumps({"case": c, "captured": True}) + "\n"
                                                  for c in range(runs)))


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"runs": 3}, "holds a campaign of 5 cases; --runs 3 would shrink it"),
    ({"runs": 5, "seed": 6}, "different seed"),
    ({"runs": 5, "duration_s": 10.0}, "different duration_s"),
])
def test_campaign_folder_is_never_shrunk_or_overwritten_by_other_parameters(tmp_path, kwargs, reason):
    out = tmp_path / "mc"
    _campaign_folder(out, 5)
    before = _snapshot(tmp_path)
    with pytest.raises(CampaignError, match=reason):
        run_campaign("final_approach", out_dir=out, **{"seed": 5, **kwargs}, case_fn=_never, progress=False)
    assert _snapshot(tmp_path) == before


def test_a_folder_holding_something_else_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text("{}")
    before = _snapshot(tmp_path)
    with pytest.raises(CampaignError, match="holds files but no campaign"):
        run_campaign("final_approach", 2, tmp_path / "run", case_fn=_never, progress=False)
    assert _snapshot(tmp_path) == before


def test_scenario_without_dispersions_needs_the_explicit_flag(tmp_path):
    with pytest.raises(CampaignError, match="has no \\[dispersions\\].*--undispersed"):
        run_campaign("thermal_hot", 2, tmp_path / "mc", case_fn=_never, progress=False)
    assert not (tmp_path / "mc").exists()


def test_scheduler_address_with_nothing_behind_it_fails_at_the_timeout_and_writes_nothing(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(CampaignError, match=r"--scheduler tcp://127.0.0.1:9: no Dask scheduler answered within 1 s"):
        run_campaign("final_approach", 2, tmp_path / "mc", scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0,
                     case_fn=_never, progress=False)
    assert time.perf_counter() - t0 < 10.0
    assert not (tmp_path / "mc").exists()


def test_rerun_of_a_case_outside_the_campaign_is_refused(tmp_path):
    out = tmp_path / "mc"
    _campaign_folder(out, 5)
    with pytest.raises(CampaignError, match="--rerun 7: no such case"):
        campaign.rerun_case(out, 7)


def test_mc_bench_moves_a_previous_benchmark_aside(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    out.mkdir()
    (out / "bench.md").write_text("previous")

    def fake_campaign(scenario, runs, out_dir, **kw):
        return {"run": {"done_at_s": [1.0] * runs, "errors": 0, "elapsed_s": 2.0, "startup_s": 0.5},
                "cases": runs, "errors": 0, "capture_rate": 1.0, "capture_rate_wilson95": [0.9, 1.0]}

    monkeypatch.setattr(campaign.bench, "run_campaign", fake_campaign)
    campaign.mc_bench(out, runs=4, speedup_runs=2, progress=False)
    assert (tmp_path / "bench-1" / "bench.md").read_text() == "previous"
    assert (out / "bench.md").is_file()


def test_rerun_with_an_unreadable_campaign_file_is_refused(tmp_path):
    out = tmp_path / "mc"
    out.mkdir()
    (out / META_FILE).write_text("{not json")
    with pytest.raises(CampaignError, match="campaign.json: unreadable"):
        campaign.rerun_case(out, 0)
