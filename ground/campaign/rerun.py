"""``qz mc --rerun CASE``: one case flown again as a normal run folder, checked against its row."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ground.campaign.cases import case_spec, rows_equal, run_case
from ground.campaign.common import META_FILE, ROWS_FILE, CampaignError
from ground.campaign.outputs import write_index
from ground.campaign.store import read_rows

log = logging.getLogger(__name__)


def rerun_case(out_dir: str | Path, case: int, *, scenario: str | None = None, seed: int | None = None,
               duration_s: float | None = None, run_dir: str | Path | None = None) -> tuple[dict, dict | None, list]:
    """Fly case ``case`` again as a normal run folder (archive, summary, report, ``row.json``).

    The scenario, campaign seed and duration come from ``OUT/campaign.json`` when it exists (arguments
    given must agree with it), else from the arguments. Returns (new row, stored row or None, differing
    columns).
    """
    from sims.scenario import load_scenario

    out = Path(out_dir)
    meta_path = out / META_FILE
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            for key in ("scenario", "seed", "duration_s"):
                meta[key]  # noqa: B018 - present, or the file is not a campaign's
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CampaignError(f"{meta_path}: unreadable ({type(err).__name__}: {err})") from None
        for key, given in (("scenario", scenario), ("seed", seed), ("duration_s", duration_s)):
            if given is not None and given != meta[key]:
                raise CampaignError(f"{meta_path}: the campaign's {key} is {meta[key]!r}, not {given!r}")
    elif scenario is None:
        raise CampaignError(f"{meta_path}: no campaign there; give --scenario (and --seed) to rerun a case")
    else:
        meta = {"scenario": scenario, "seed": load_scenario(scenario).seed if seed is None else seed,
                "duration_s": duration_s}
    if case < 0 or (meta.get("runs") and case >= meta["runs"]):
        raise CampaignError(f"--rerun {case}: no such case (the campaign's cases are 0 .. "
                            f"{(meta.get('runs') or 1) - 1})")
    run_dir = Path(run_dir) if run_dir else out / "rerun" / f"case-{case:05d}"
    spec = case_spec(meta["scenario"], meta["seed"], case, meta["duration_s"], str(run_dir), write_report=True,
                     apps=meta.get("apps"))
    row = json.loads(json.dumps(run_case(spec)))  # through JSON, as the stored rows went
    (run_dir / "row.json").write_text(json.dumps(row, indent=2) + "\n")
    if (out / "summary.json").is_file() and (out / ROWS_FILE).is_file():
        write_index(out)  # the index links the rerun's report
    old = read_rows(out).get(case)
    return row, old, rows_equal(row, old) if old is not None else []
