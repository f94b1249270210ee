"""``qz sim`` (and, as they land, the other run commands)."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("sim", help="run a scenario software-in-the-loop and write a run folder")
    p.add_argument("--scenario", required=True, help="scenario name (sims/scenarios/NAME.toml) or a TOML path")
    p.add_argument("--out", default=None, help="run folder (default runs/<scenario>)")
    p.add_argument("--duration", type=float, default=None, help="mission seconds (default: the scenario's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--timeline", type=int, default=0, metavar="N",
                   help="keep the N worst frames (lateness, each task's start and duration) in timeline.json")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.set_defaults(func=_sim)


def _sim(args) -> int:
    from sims.runner import run_sil
    from sims.scenario import ScenarioError

    out = Path(args.out) if args.out else Path("runs") / Path(args.scenario).stem
    try:
        s = run_sil(args.scenario, out, duration_s=args.duration, seed=args.seed,
                    progress=not args.no_progress, timeline=args.timeline, write_report=not args.no_report)
    except (ScenarioError, ValueError) as err:
        print(f"qz sim: {err}", file=sys.stderr)
        return 2
    dock = s["docking"]
    print(f"{s['scenario']} seed {s['seed']}: {s['mission_time_s']:.0f} s mission in {s['wall_time_s']:.1f} s "
          f"({s['speed_factor']:.0f}x), stop: {s['stop_reason']}, final mode {s['final_mode']}")
    print(f"docking: {'captured' if dock.get('captured') else 'not captured'}; "
          f"propellant {dock['propellant_used_kg']:.2f} kg; run folder {out}")
    return 0 if s["stop_reason"] not in ("collision", "failed docking contact") else 1
