"""Flying a campaign on Dask: a local cluster or an existing scheduler, resumable, with retries."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path

from ground.campaign.cases import case_spec, error_row, run_case
from ground.campaign.common import META_FILE, SCHEDULER_TIMEOUT_S, CampaignError
from ground.campaign.outputs import write_outputs
from ground.campaign.store import (
    RowLog,
    campaign_meta,
    check_folder,
    check_meta,
    check_options,
    read_rows,
    scenario_arg,
)

log = logging.getLogger(__name__)


def _client(workers: int | None, scheduler: str | None, timeout_s: float = SCHEDULER_TIMEOUT_S):
    """A Dask client: an existing scheduler, or a local cluster of single-threaded worker processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout_s), None
        except Exception as err:  # distributed raises OSError, ValueError, TimeoutError ... for a bad address
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            if isinstance(err, ValueError):
                raise CampaignError(f"--scheduler {scheduler}: not a scheduler address ({reason})") from None
            raise CampaignError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout_s:g} s "
                                f"({type(err).__name__}: {reason})") from None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_campaign(scenario: str, runs: int, out_dir: str | Path, *, seed: int | None = None,
                 workers: int | None = None, scheduler: str | None = None, duration_s: float | None = None,
                 retries: int = 2, progress: bool = True, keep_runs: bool = False, retry_errors: bool = False,
                 undispersed: bool = False, connect_timeout_s: float = SCHEDULER_TIMEOUT_S,
                 case_fn=run_case, apps: dict | None = None) -> dict:
    """Fly cases ``0 .. runs-1`` of ``scenario`` (those not already in ``OUT/cases.jsonl``) and write the outputs.

    Parameters
    ----------
    scenario : scenario name or TOML path (must resolve on the workers too)
    runs : number of cases; raising it later extends a campaign, finished cases are kept
    seed : campaign seed (default: the scenario's ``seed``)
    workers / scheduler : local cluster size (default: the CPU count) / address of an existing Dask scheduler
    duration_s : mission-time limit per case (default: the scenario's)
    retries : further attempts of a case that raised (a case whose worker died is rerun by the scheduler)
    keep_runs : keep each case's run folder (telemetry archive and all) under ``OUT/runs/``
    retry_errors : fly again the cases whose stored row is an error
    undispersed : fly a scenario without ``[dispersions]`` (its cases differ only in the truth's seed)
    connect_timeout_s : [s] wait for ``scheduler`` to answer
    case_fn : the function a worker calls with a :func:`case_spec` (tests substitute it)
    apps : task -> implementation every case flies (``qz mc --compare``), over the scenario's ``[flight.apps]``

    Returns
    -------
    dict : the campaign summary (also ``OUT/summary.json``) plus ``"run"``: this invocation's counts and times
    """
    from sims.scenario import load_scenario

    # everything is checked before anything is written
    check_options(runs, workers, retries, duration_s, seed)
    scenario = scenario_arg(scenario)
    sc = load_scenario(scenario)
    if not sc.raw["dispersions"] and not undispersed:
        raise CampaignError(f"scenario {sc.name} ({sc.source}) has no [dispersions]: its cases would differ only "
                            f"in the truth's noise seed; give --undispersed to fly them, or add a [dispersions] "
                            f"table (docs/scenarios.md)")
    seed = sc.seed if seed is None else int(seed)
    out = Path(out_dir)
    check_folder(out)
    meta = campaign_meta(scenario, seed, duration_s, sc, runs, apps)
    check_meta(out, meta)
    done = read_rows(out)
    todo = [c for c in range(runs) if c not in done or (retry_errors and done[c].get("error"))]
    stats = {"skipped": runs - len(todo), "submitted": len(todo), "errors": 0, "elapsed_s": 0.0,
             "startup_s": 0.0, "done_at_s": []}
    t0 = time.perf_counter()
    client = _client(workers, scheduler, connect_timeout_s) if todo else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    except BaseException:
        _close(client)
        raise
    if todo:
        _fly(todo, scenario, seed, duration_s, out, client, retries, progress, keep_runs, case_fn, stats, t0,
             apps)
    stats["elapsed_s"] = time.perf_counter() - t0
    summary = write_outputs(out, sc, runs)
    summary["run"] = {k: v for k, v in stats.items() if k != "done_at_s"}
    summary["run"]["done_at_s"] = stats["done_at_s"]
    return summary


def _fly(todo, scenario, seed, duration_s, out, client_cluster, retries, progress, keep_runs, case_fn,
         stats, t0, apps=None) -> None:
    from dask.distributed import as_completed
    from tqdm import tqdm

    client, cluster = client_cluster
    stats["startup_s"] = time.perf_counter() - t0
    rowlog = RowLog(out)
    token = uuid.uuid4().hex[:8]
    specs = {}
    try:
        futures = []
        for c in todo:
            run_dir = str((out / "runs" / f"case-{c:05d}").resolve()) if keep_runs else None
            spec = case_spec(scenario, seed, c, duration_s, run_dir, apps=apps)
            fut = client.submit(case_fn, spec, key=f"qz-mc-{token}-{c}", pure=False, retries=retries)
            specs[fut.key] = spec
            futures.append(fut)
        captured = 0
        desc = f"qz mc {Path(scenario).stem}" + "".join(f" {t}={i}" for t, i in (apps or {}).items())
        with tqdm(total=len(todo), desc=desc, unit="case", disable=not progress,
                  mininterval=0.5) as bar:
            for fut in as_completed(futures):
                spec = specs[fut.key]
                try:
                    row = fut.result()
                except Exception as err:  # raised on every attempt, or its workers kept dying
                    log.warning("case %d failed: %s", spec["case"], err)
                    row = error_row(spec, err)
                    stats["errors"] += 1
                rowlog.append(row)
                stats["done_at_s"].append(time.perf_counter() - t0)
                captured += bool(row.get("captured"))
                bar.update(1)
                bar.set_postfix_str(f"captured {captured}/{bar.n}")
                fut.release()
    finally:
        rowlog.close()
        _close(client_cluster)


def _close(client_cluster) -> None:
    if client_cluster is not None:
        client, cluster = client_cluster
        client.close()
        if cluster is not None:
            cluster.close()
