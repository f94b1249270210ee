"""``qz mc --compare TASK=A,B``: the same dispersed cases, same seeds, flown with each implementation of a task.

Each implementation's cases are an ordinary campaign in ``OUT/<implementation>/`` (resumable, ``--rerun`` works
there), flown with ``apps = {TASK: implementation}``. Then ``OUT/compare.json``, ``compare.md`` and
``compare.png`` put them side by side: capture rate with its Wilson interval, propellant, time to docking, each
contact quantity's mean and 3-sigma, the task's CPU time per step against its budget, and every case whose
outcome differs between the implementations, with the command that flies it again.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from pathlib import Path

import numpy as np

from ground.campaign.common import SIGMA_K, CampaignError
from ground.campaign.outputs import fmt
from ground.campaign.store import campaign_meta, check_folder, check_meta, check_options, read_rows, scenario_arg
from ground.campaign.summary import case_outcome

log = logging.getLogger(__name__)

COMPARE_FILES = ("compare.json", "compare.md", "compare.png")
CONTACT_SHOWN = ("axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg", "roll_deg")


def parse_compare(text: str) -> tuple[str, list[str]]:
    """``"guidance=closing_profile,glideslope"`` -> ("guidance", ["closing_profile", "glideslope"])."""
    task, sep, impls = str(text).partition("=")
    names = [s.strip() for s in impls.split(",")]
    if not sep or not task.strip() or len(names) < 2 or not all(names):
        raise CampaignError(f"--compare {text!r}: expected TASK=IMPL,IMPL[,...] (e.g. guidance=closing_profile,"
                            "glideslope)")
    if len(set(names)) != len(names):
        raise CampaignError(f"--compare {text!r}: an implementation is named twice")
    return task.strip(), names


def folder_name(impl: str) -> str:
    """The sub-folder of one implementation's campaign (``pkg.mod:Class`` -> ``pkg.mod-Class``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", impl)


def run_compare(scenario: str, runs: int, out_dir: str | Path, compare: str, *, seed: int | None = None,
                workers: int | None = None, scheduler: str | None = None, duration_s: float | None = None,
                retries: int = 2, progress: bool = True, connect_timeout_s: float | None = None,
                run_fn=None) -> dict:
    """Fly ``runs`` cases of ``scenario`` once per implementation of ``compare`` and write the comparison."""
    from fsw.contract import ContractError, check_selection
    from ground.campaign.run import run_campaign
    from sims.scenario import load_scenario

    task, impls = parse_compare(compare)
    check_options(runs, workers, retries, duration_s, seed)
    for impl in impls:  # every implementation resolves and matches the contract before anything flies
        try:
            check_selection(task, impl, where="--compare")
        except ContractError as err:
            raise CampaignError(str(err)) from None
    scenario = scenario_arg(scenario)
    sc = load_scenario(scenario)
    if not sc.raw["dispersions"]:
        raise CampaignError(f"scenario {sc.name} ({sc.source}) has no [dispersions]: a comparison flies dispersed "
                            "cases")
    seed = sc.seed if seed is None else int(seed)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out}: is a file, expected a folder")
    subs = {impl: out / folder_name(impl) for impl in impls}
    if out.is_dir():
        stray = sorted(p.name for p in out.iterdir() if p.name not in COMPARE_FILES
                       and p.name not in {s.name for s in subs.values()})
        if stray:
            raise CampaignError(f"--out {out}: holds {stray[:3]}, not a comparison of {compare}; choose an empty or "
                                "new folder")
    for impl, sub in subs.items():
        check_folder(sub)
        check_meta(sub, campaign_meta(scenario, seed, duration_s, sc, runs, {task: impl}))
    run_fn = run_fn or run_campaign
    kwargs = dict(seed=seed, workers=workers, scheduler=scheduler, duration_s=duration_s, retries=retries,
                  progress=progress)
    if connect_timeout_s is not None:
        kwargs["connect_timeout_s"] = connect_timeout_s
    summaries = {impl: run_fn(scenario, runs, sub, apps={task: impl}, **kwargs) for impl, sub in subs.items()}
    rows = {impl: read_rows(sub) for impl, sub in subs.items()}
    result = compare_results(task, impls, summaries, rows, subs)
    (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "compare.md").write_text(compare_markdown(result))
    try:
        plot_compare(out / "compare.png", result, rows)
    except ImportError:
        log.info("matplotlib not installed: compare.png not written")
    return result


def _cpu(rows: list[dict], task: str) -> dict:
    """The task's CPU time per step over the cases: mean of the case means, median and worst of the case p99s,
    the worst call, the budget and the calls over it."""
    def col(k):
        return np.array([r[f"cpu_{task}_{k}"] for r in rows if r.get(f"cpu_{task}_{k}") is not None], float)
    mean, p99, mx, budget, over = col("mean_us"), col("p99_us"), col("max_us"), col("budget_us"), col("overruns")
    if not len(mean):
        return {"n": 0}
    return {"n": len(mean), "mean_us": float(mean.mean()), "p99_median_us": float(np.median(p99)),
            "p99_max_us": float(p99.max()), "max_us": float(mx.max()), "budget_us": float(budget.max()),
            "overruns": int(over.sum()), "cases_with_overruns": int((over > 0).sum())}


def compare_results(task: str, impls: list[str], summaries: dict, rows: dict, subs: dict) -> dict:
    """The side-by-side numbers and the cases whose outcome differs."""
    per = {}
    for impl in impls:
        s = summaries[impl]
        rs = [rows[impl][c] for c in sorted(rows[impl])]
        prop = s["propellant_used_kg"]
        per[impl] = {
            "folder": str(subs[impl]), "cases": s["cases"], "captured": s["captured"],
            "capture_rate": s["capture_rate"], "capture_rate_wilson95": s["capture_rate_wilson95"],
            "outcomes": s["outcomes"],
            "propellant_used_kg": {k: prop.get(k) for k in ("mean", "std", "max")},
            "time_to_docking_s": s["time_to_docking_s"],
            "contact": {q: {k: s["contact_quantities"][q].get(k) for k in ("n", "mean", "std", "limit",
                                                                             "within_limit_3sigma",
                                                                             "within_design_3sigma")}
                        for q in CONTACT_SHOWN},
            "cpu_per_step": _cpu(rs, task),
        }
    a = impls[0]
    common = sorted(set.intersection(*(set(rows[i]) for i in impls)))
    disagree = []
    for c in common:
        outs = {i: case_outcome(rows[i][c]) for i in impls}
        if len({o for o, _ in outs.values()}) > 1:
            disagree.append({"case": c, "seed": rows[a][c].get("seed"),
                             **{i: {"outcome": o, "reason": why} for i, (o, why) in outs.items()},
                             "rerun": {i: f"qz mc --out {shlex.quote(str(subs[i]))} --rerun {c}" for i in impls}})
    return {"task": task, "implementations": impls, "scenario": summaries[a]["scenario"],
            "campaign_seed": summaries[a]["campaign_seed"], "cases_compared": len(common),
            "results": per, "disagreements": disagree}


def _pct(rate, lo, hi) -> str:
    return "-" if rate is None else f"{100 * rate:.1f} % ({100 * lo:.1f} - {100 * hi:.1f})"


def _three(q: dict):
    return None if q.get("std") is None else SIGMA_K * q["std"]


def _cpu_cell(c: dict) -> str:
    return (f"{fmt(c.get('mean_us'), '.1f')} / {fmt(c.get('p99_median_us'), '.1f')} / {fmt(c.get('max_us'), '.0f')}; "
            f"{fmt(c.get('budget_us'), 'g')}")


def compare_table(r: dict) -> list[list[str]]:
    """Rows of the side-by-side table: quantity, then one cell per implementation."""
    impls = r["implementations"]
    res = r["results"]
    rows = [["capture rate (Wilson 95 %)"] + [_pct(res[i]["capture_rate"], *res[i]["capture_rate_wilson95"])
                                              for i in impls]]
    rows.append(["propellant used [kg], mean / 3-sigma"] + [
        f"{fmt(res[i]['propellant_used_kg']['mean'], '.3f')} / {fmt(_three(res[i]['propellant_used_kg']), '.3f')}"
        for i in impls])
    rows.append(["time to docking [s], p50 / p95"] + [
        f"{fmt(res[i]['time_to_docking_s'].get('p50'), '.0f')} / {fmt(res[i]['time_to_docking_s'].get('p95'), '.0f')}"
        for i in impls])
    for q in CONTACT_SHOWN:
        rows.append([f"{q}, mean / 3-sigma"] + [
            f"{fmt(res[i]['contact'][q]['mean'])} / "
            f"{fmt(_three(res[i]['contact'][q]))}"
            + ("" if res[i]["contact"][q].get("within_design_3sigma") in (True, None) else " (outside design)")
            for i in impls])
    rows.append([f"{r['task']} CPU per step [us]: mean / p99 (median case) / max; budget"] + [
        _cpu_cell(res[i]["cpu_per_step"]) for i in impls])
    rows.append([f"{r['task']} calls over budget (cases)"] + [
        f"{res[i]['cpu_per_step'].get('overruns', '-')} ({res[i]['cpu_per_step'].get('cases_with_overruns', '-')})"
        for i in impls])
    return rows


def compare_markdown(r: dict) -> str:
    impls = r["implementations"]
    lines = [f"# {r['task']}: {' vs '.join(impls)} on {r['scenario']} (campaign seed {r['campaign_seed']}, "
             f"{r['cases_compared']} cases, the same seeds and dispersions)", "",
             "| | " + " | ".join(f"`{i}`" for i in impls) + " |", "| --- |" + " --- |" * len(impls)]
    lines += ["| " + " | ".join(row) + " |" for row in compare_table(r)]
    dis = r["disagreements"]
    lines += ["", f"## Cases whose outcome differs: {len(dis)}", ""]
    if dis:
        lines += ["| case | seed | " + " | ".join(f"`{i}`" for i in impls) + " | fly it again |",
                  "| ---: | ---: |" + " --- |" * len(impls) + " --- |"]
        for d in dis:
            cells = [f"{d[i]['outcome']}" + (f": {d[i]['reason']}" if d[i]["reason"] else "") for i in impls]
            cmds = "<br>".join(f"`{d['rerun'][i]}`" for i in impls)
            lines.append(f"| {d['case']} | {d['seed']} | " + " | ".join(cells) + f" | {cmds} |")
    return "\n".join(lines) + "\n"


def plot_compare(path: Path, r: dict, rows: dict) -> Path:
    """Capture rate with its interval, propellant, time to docking, lateral misalignment, axial rate and the task's
    CPU time per step against its budget, one colour per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impls = r["implementations"]
    res = r["results"]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    ax = axes[0, 0]
    for k, i in enumerate(impls):
        rate = res[i]["capture_rate"] or 0.0
        lo, hi = res[i]["capture_rate_wilson95"]
        ax.bar(k, 100 * rate, color=colours[k % len(colours)])
        ax.errorbar(k, 100 * rate, yerr=[[100 * (rate - lo)], [100 * (hi - rate)]], color="k", capsize=6)
    ax.set_xticks(range(len(impls)), impls)
    ax.set_ylim(min(90.0, 100 * min(res[i]["capture_rate_wilson95"][0] for i in impls) - 2), 100.5)
    ax.set_ylabel("capture rate [%] (Wilson 95 %)")
    panels = [(axes[0, 1], "propellant_used_kg", "propellant used [kg]", None),
              (axes[0, 2], "contact_time_s", "time to docking [s]", None),
              (axes[1, 0], "lateral_misalignment_m", "lateral misalignment at contact [m]", None),
              (axes[1, 1], "axial_rate_mps", "axial rate at contact [m/s]", None)]
    for ax, col, label, _ in panels:
        data = [np.array([row[col] for row in rows[i].values() if row.get(col) is not None
                          and (col != "contact_time_s" or row.get("captured"))], float) for i in impls]
        allv = np.concatenate([d for d in data if len(d)]) if any(len(d) for d in data) else np.zeros(1)
        bins = np.linspace(allv.min(), allv.max() if allv.max() > allv.min() else allv.min() + 1, 30)
        for k, (i, d) in enumerate(zip(impls, data, strict=True)):
            ax.hist(d, bins=bins, alpha=0.55, color=colours[k % len(colours)], label=i)
        ax.set_xlabel(label)
        ax.set_ylabel("cases")
        ax.legend()
    ax = axes[1, 2]
    task = r["task"]
    for k, i in enumerate(impls):
        p99 = [row[f"cpu_{task}_p99_us"] for row in rows[i].values() if row.get(f"cpu_{task}_p99_us") is not None]
        mean = [row[f"cpu_{task}_mean_us"] for row in rows[i].values() if row.get(f"cpu_{task}_mean_us") is not None]
        ax.boxplot([mean, p99], positions=[3 * k, 3 * k + 1], widths=0.8, showfliers=False)
        ax.text(3 * k + 0.5, 0.0, i, ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
    budget = max((res[i]["cpu_per_step"].get("budget_us") or 0.0) for i in impls)
    ax.set_xticks([3 * k + j for k in range(len(impls)) for j in (0, 1)], ["mean", "p99"] * len(impls))
    ax.set_yscale("log")
    if budget:
        ax.axhline(budget, color="r", ls="--", label=f"budget {budget:g} us")
        ax.legend()
    ax.set_ylabel(f"{task} CPU per step [us] (per case)")
    fig.suptitle(f"{task}: {' vs '.join(impls)} on {r['scenario']}, {r['cases_compared']} cases "
                 f"(seed {r['campaign_seed']}); {len(r['disagreements'])} case(s) with different outcomes")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

