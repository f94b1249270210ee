"""The ``qz mc`` and ``qz mc-bench`` sub-commands."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ground.campaign.bench import bench_markdown, mc_bench
from ground.campaign.common import META_FILE, ROWS_FILE, SCHEDULER_TIMEOUT_S, CampaignError
from ground.campaign.outputs import summary_markdown
from ground.campaign.rerun import rerun_case
from ground.campaign.run import run_campaign

log = logging.getLogger(__name__)


def register(sub) -> None:
    """``qz mc`` and ``qz mc-bench``."""
    from ground.options import count, nonneg_count, positive_seconds, seed

    p = sub.add_parser("mc", help="Monte Carlo campaign of a scenario on Dask (resumable), or rerun one case",
                       description="Fly N dispersed cases of a scenario on a local Dask cluster or an existing "
                                   "scheduler. Finished cases are kept in OUT/cases.jsonl: the same command resumes "
                                   "an interrupted campaign. Writes cases.csv/.parquet, summary.json/.md, plots/.")
    p.add_argument("--scenario", default=None, help="scenario name or TOML path (default: the campaign's in OUT, "
                                                    "else final_approach)")
    p.add_argument("--runs", type=count, default=None, help="number of cases (required unless --rerun)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=count, default=None, help="local Dask worker processes (default: CPU count)")
    g.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (tcp://host:8786)")
    p.add_argument("--connect-timeout", type=positive_seconds, default=SCHEDULER_TIMEOUT_S, metavar="S",
                   help=f"[s] wait for --scheduler to answer (default {SCHEDULER_TIMEOUT_S:g})")
    p.add_argument("--out", default=None, help="campaign folder (default runs/mc-<scenario>)")
    p.add_argument("--seed", type=seed, default=None, help="campaign seed (default: the scenario's seed)")
    p.add_argument("--duration", type=positive_seconds, default=None, help="mission-time limit per case [s]")
    p.add_argument("--retries", type=nonneg_count, default=2, help="further attempts of a case that raises "
                                                                   "(default 2)")
    p.add_argument("--keep-runs", action="store_true", help="keep every case's run folder (archives) in OUT/runs/")
    p.add_argument("--retry-errors", action="store_true", help="fly again the cases stored as errors")
    p.add_argument("--undispersed", action="store_true",
                   help="fly a scenario without [dispersions] (cases differ only in the truth's noise seed)")
    p.add_argument("--rerun", type=nonneg_count, default=None, metavar="CASE",
                   help="fly case CASE again as a normal run folder (OUT/rerun/case-CASE) and compare its row")
    p.add_argument("--compare", default=None, metavar="TASK=A,B",
                   help="fly the same cases with each implementation of TASK (e.g. guidance=closing_profile,"
                        "glideslope) into OUT/<implementation>/, then OUT/compare.md, .json, .png side by side")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_mc_cmd)

    b = sub.add_parser("mc-bench", help="Monte Carlo throughput: 1 vs 2 workers, then a full campaign, timed")
    b.add_argument("--scenario", default="final_approach", help="scenario name or TOML path, with [dispersions]")
    b.add_argument("--runs", type=count, default=1000, help="cases of the full campaign (default 1000)")
    b.add_argument("--speedup-runs", type=count, default=20, help="cases of each 1- and 2-worker campaign")
    b.add_argument("--seed", type=seed, default=None)
    b.add_argument("--out", default="runs/mc-bench", help="benchmark folder (a previous one is moved aside)")
    b.add_argument("--no-full", action="store_true", help="only the 1-vs-2-worker comparison")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=_bench_cmd)


def _out_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    stem = Path(args.scenario or "final_approach").stem
    if getattr(args, "compare", None):
        return Path("runs") / f"mc-compare-{stem}-{args.compare.partition('=')[0].strip() or 'task'}"
    return Path("runs") / f"mc-{stem}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _mc_cmd(args) -> int:
    import signal

    signal.signal(signal.SIGTERM, _interrupt)  # a batch system's stop: close the cluster, keep the rows
    out = _out_dir(args)
    try:
        if args.compare is not None:
            return _compare(args, out)
        if args.rerun is not None:
            row, old, diff = rerun_case(out, args.rerun, scenario=args.scenario, seed=args.seed,
                                        duration_s=args.duration)
            run_dir = out / "rerun" / f"case-{args.rerun:05d}"
            print(f"case {args.rerun} (seed {row['seed']}): {row['stop_reason']}, captured {row['captured']}; "
                  f"run folder {run_dir}")
            if old is None:
                print("no stored row for this case to compare with")
                return 0
            if diff:
                for k in diff:
                    print(f"  differs: {k}: stored {old.get(k)!r}, rerun {row.get(k)!r}")
                return 1
            print("reproduces the stored row exactly")
            return 0
        if args.runs is None:
            raise CampaignError("--runs is required (or --rerun CASE)")
        scenario = args.scenario
        if scenario is None:
            meta = out / META_FILE
            try:
                scenario = json.loads(meta.read_text())["scenario"] if meta.is_file() else "final_approach"
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise CampaignError(f"{meta}: unreadable ({err}); give --scenario or choose another --out") from None
        s = run_campaign(scenario, args.runs, out, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                         duration_s=args.duration, retries=args.retries, progress=not args.no_progress,
                         keep_runs=args.keep_runs, retry_errors=args.retry_errors, undispersed=args.undispersed,
                         connect_timeout_s=args.connect_timeout)
    except KeyboardInterrupt:
        print(f"qz mc: interrupted; finished cases are kept in {out / ROWS_FILE}: run the same command to resume",
              file=sys.stderr)
        return 130
    run = s["run"]
    print(f"{run['submitted']} cases flown ({run['skipped']} already done, {run['errors']} errors) in "
          f"{run['elapsed_s']:.1f} s")
    print(summary_markdown(s).split("\n\n")[1])
    print(f"campaign folder {out}: index.html (open it in a browser), cases.csv, summary.md, plots/")
    return 0


def _compare(args, out: Path) -> int:
    from ground.campaign.compare import compare_table, run_compare

    if args.rerun is not None:
        raise CampaignError("--compare and --rerun: rerun a case in its implementation's folder "
                            "(qz mc --out OUT/<implementation> --rerun CASE)")
    if args.runs is None:
        raise CampaignError("--runs is required with --compare")
    for flag in ("keep_runs", "retry_errors", "undispersed"):
        if getattr(args, flag):
            raise CampaignError(f"--{flag.replace('_', '-')} is not available with --compare")
    r = run_compare(args.scenario or "final_approach", args.runs, out, args.compare, seed=args.seed,
                    workers=args.workers, scheduler=args.scheduler, duration_s=args.duration, retries=args.retries,
                    progress=not args.no_progress, connect_timeout_s=args.connect_timeout)
    impls = r["implementations"]
    width = max(len(row[0]) for row in compare_table(r))
    print(f"{'':{width}}  " + "  ".join(f"{i:>28}" for i in impls))
    for row in compare_table(r):
        print(f"{row[0]:{width}}  " + "  ".join(f"{c:>28}" for c in row[1:]))
    print(f"{len(r['disagreements'])} case(s) with different outcomes (compare.md lists each, with the command that "
          f"flies it again); folder {out}: compare.md, compare.json, compare.png")
    return 0


def _bench_cmd(args) -> int:
    r = mc_bench(args.out, scenario=args.scenario, runs=args.runs, speedup_runs=args.speedup_runs, seed=args.seed,
                 full=not args.no_full, progress=not args.no_progress)
    print(bench_markdown(r))
    print(f"benchmark folder {args.out}: bench.md, bench.json")
    return 0
