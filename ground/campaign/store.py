"""A campaign folder on disk: rows appended as cases finish, the campaign file, and the checks made before
anything is written there."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from ground.campaign.common import META_FILE, ROWS_FILE, CampaignError

log = logging.getLogger(__name__)


def read_rows(out_dir: str | Path) -> dict[int, dict]:
    """Case -> its latest row in ``cases.jsonl``; a torn last line (killed mid-write) is ignored."""
    path = Path(out_dir) / ROWS_FILE
    rows: dict[int, dict] = {}
    if not path.is_file():
        return rows
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable row skipped (interrupted write?); the case will run again", path, n)
                continue
            rows[int(row["case"])] = row
    return rows


class RowLog:
    """Append-only ``cases.jsonl``: one line per finished case, flushed as it is written."""

    def __init__(self, out_dir: Path):
        path = Path(out_dir) / ROWS_FILE
        torn = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
        self._fh = open(path, "a")
        if torn:  # a killed writer left half a line: end it so the next row starts clean
            self._fh.write("\n")

    def append(self, row: dict) -> None:
        self._fh.write(json.dumps(row, allow_nan=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def campaign_meta(scenario: str, seed: int, duration_s: float | None, sc, runs: int | None = None,
                  apps: dict | None = None) -> dict:
    meta = {"scenario": str(scenario), "seed": int(seed), "duration_s": duration_s,
            "dispersions": sc.raw["dispersions"], "runs": runs}
    if apps:  # the implementations flown (qz mc --compare); absent: the configured ones
        meta["apps"] = dict(apps)
    return json.loads(json.dumps(meta))  # as it will read back from campaign.json


def check_folder(out: Path) -> None:
    """Refuse an output that is a file, or a folder holding something other than a campaign (read only)."""
    if out.exists() and not out.is_dir():
        raise CampaignError(f"--out {out}: is a file, expected a campaign folder")
    if out.is_dir() and not (out / META_FILE).is_file() and any(out.iterdir()):
        raise CampaignError(f"--out {out}: holds files but no campaign ({META_FILE}); choose an empty or new folder")
    probe = out
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise CampaignError(f"--out {out}: {probe} is not a writable folder")


def check_meta(out: Path, meta: dict) -> None:
    """A campaign folder is resumed or extended with its own parameters only, never shrunk."""
    path = out / META_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CampaignError(f"{path}: unreadable ({err}); choose another --out") from None
    for key in ("scenario", "seed", "duration_s", "dispersions", "apps"):
        if old.get(key) != meta.get(key):
            was = "" if key == "dispersions" else f" ({old.get(key)!r}, now {meta.get(key)!r})"
            raise CampaignError(f"{out}: holds a campaign with a different {key}{was}; resume it with the same "
                                f"arguments and scenario file, or choose another --out")
    before = max(old.get("runs") or 0, max(read_rows(out), default=-1) + 1)
    if meta["runs"] is not None and meta["runs"] < before:
        raise CampaignError(f"{out}: holds a campaign of {before} cases; --runs {meta['runs']} would shrink it "
                            f"(give --runs {before} or more, or choose another --out)")


def check_options(runs: int, workers: int | None, retries: int, duration_s: float | None,
                   seed: int | None) -> None:
    for name, value, lo in (("--runs", runs, 1), ("--workers", workers, 1), ("--retries", retries, 0),
                            ("--seed", seed, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lo):
            raise CampaignError(f"{name} must be an integer >= {lo}, got {value!r}")
    if duration_s is not None and not (isinstance(duration_s, (int, float)) and 0 < duration_s < math.inf):
        raise CampaignError(f"--duration must be a number of seconds > 0, got {duration_s!r}")


def scenario_arg(scenario: str) -> str:
    """A shipped name stays a name; a file becomes its absolute path (workers may run elsewhere)."""
    from sims.scenario import SCENARIO_DIR, resolve_scenario

    path = resolve_scenario(scenario)
    return path.stem if path.parent == SCENARIO_DIR and path.stem == str(scenario) else str(path)
