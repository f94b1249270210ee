"""``qz mc-bench``: campaign throughput and the speed-up from one to two workers."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ground.campaign.common import ROWS_FILE, CampaignError
from ground.campaign.outputs import fmt
from ground.campaign.run import run_campaign
from ground.campaign.store import check_options, scenario_arg

log = logging.getLogger(__name__)


def throughput(summary: dict, workers: int) -> dict:
    """Cases per second of one campaign: overall (cluster start-up included) and after each worker's first case,
    and the aggregate simulation speed (mission seconds flown per wall second, all workers together)."""
    stats = summary["run"]
    done = stats["done_at_s"]
    n = len(done)
    out = {"workers": workers, "cases": n, "errors": stats["errors"], "elapsed_s": stats["elapsed_s"],
           "startup_s": stats["startup_s"], "cases_per_s": n / stats["elapsed_s"] if stats["elapsed_s"] > 0 else None}
    if n > workers:
        span = done[-1] - done[workers - 1]
        out["steady_cases_per_s"] = (n - workers) / span if span > 0 else None
    mt = summary.get("mission_time_s") or {}
    if mt and stats["elapsed_s"] > 0:
        out["mean_mission_s"] = mt["mean"]
        out["mission_s_per_wall_s"] = mt["mean"] * summary["cases"] / stats["elapsed_s"]
    return out


def mc_bench(out_dir: str | Path, *, scenario: str = "final_approach", runs: int = 1000, speedup_runs: int = 20,
             seed: int | None = None, full: bool = True, progress: bool = True) -> dict:
    """1 vs 2 workers on ``speedup_runs`` cases, then ``runs`` cases on 2 workers; writes bench.json / bench.md.

    Every campaign starts fresh: a previous benchmark in ``out_dir`` is moved aside to ``<out_dir>-N``
    (as run folders are), never deleted.
    """
    for name, value in (("--runs", runs), ("--speedup-runs", speedup_runs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CampaignError(f"{name} must be an integer >= 1, got {value!r}")
    check_options(1, None, 0, None, seed)
    scenario = scenario_arg(scenario)
    from sims.scenario import load_scenario

    if not load_scenario(scenario).raw["dispersions"]:
        raise CampaignError(f"scenario {scenario} has no [dispersions] to benchmark a campaign of")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out}: is a file, expected a folder")
    if out.is_dir() and any(out.iterdir()):
        n = 1
        while out.with_name(f"{out.name}-{n}").exists():
            n += 1
        out.rename(out.with_name(f"{out.name}-{n}"))
        log.warning("previous benchmark in %s moved to %s", out, out.with_name(f"{out.name}-{n}"))
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"scenario": scenario, "cpu_count": os.cpu_count(), "speedup": {}}

    def fresh(name):
        return out / name

    for k in (1, 2):
        s = run_campaign(scenario, speedup_runs, fresh(f"speedup-{k}w"), seed=seed, workers=k, progress=progress)
        result["speedup"][f"{k}w"] = throughput(s, k)
    one, two = result["speedup"]["1w"], result["speedup"]["2w"]
    result["speedup"]["ratio_overall"] = two["cases_per_s"] / one["cases_per_s"]
    if one.get("steady_cases_per_s") and two.get("steady_cases_per_s"):
        result["speedup"]["ratio_steady"] = two["steady_cases_per_s"] / one["steady_cases_per_s"]
    if full:
        s = run_campaign(scenario, runs, fresh("full"), seed=seed, workers=2, progress=progress)
        result["full"] = throughput(s, 2)
        result["full"]["capture_rate"] = s["capture_rate"]
        result["full"]["capture_rate_wilson95"] = s["capture_rate_wilson95"]
        result["full"]["under_10_min"] = s["run"]["elapsed_s"] < 600.0
        if s["errors"]:
            log.warning("mc-bench: %d of %d cases raised; see %s", s["errors"], runs, out / "full" / ROWS_FILE)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(bench_markdown(result))
    return result


def bench_markdown(r: dict) -> str:
    lines = [f"# qz mc-bench: {r['scenario']} on {r['cpu_count']} CPUs", "",
             "| campaign | workers | cases | errors | elapsed [s] | cluster start [s] | cases/s "
             "| cases/s after warm-up | mean mission [s] | mission s per wall s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [(f"speed-up {k}", v) for k, v in r["speedup"].items() if isinstance(v, dict)]
    if "full" in r:
        rows.append(("full", r["full"]))
    for name, v in rows:
        lines.append(f"| {name} | {v['workers']} | {v['cases']} | {v['errors']} | {v['elapsed_s']:.1f} | "
                     f"{v['startup_s']:.1f} | {fmt(v['cases_per_s'], '.3f')} | "
                     f"{fmt(v.get('steady_cases_per_s'), '.3f')} | {fmt(v.get('mean_mission_s'), '.0f')} | "
                     f"{fmt(v.get('mission_s_per_wall_s'), '.0f')} |")
    lines += ["", f"Speed-up 1 -> 2 workers: {r['speedup']['ratio_overall']:.2f} overall, "
                  f"{fmt(r['speedup'].get('ratio_steady'), '.2f')} after warm-up."]
    if "full" in r:
        f = r["full"]
        lines.append(f"Full campaign: {f['cases']} cases in {f['elapsed_s']:.0f} s "
                     f"({'under' if f['under_10_min'] else 'OVER'} the 10 min target); capture rate "
                     f"{100 * f['capture_rate']:.2f} % (Wilson 95 % {100 * f['capture_rate_wilson95'][0]:.2f}"
                     f"-{100 * f['capture_rate_wilson95'][1]:.2f} %).")
    return "\n".join(lines) + "\n"
