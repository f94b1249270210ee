"""Golden digests of whole flights: what the flight software and the truth did, bit for bit.

A refactor that must not change behaviour (records instead of index vectors, kernels split or merged) is
checked against ``runs.json``: per scenario, a SHA-256 of every guidance, navigation, attitude, docking,
propulsion and thermal packet the run sent (the timing packets are left out: execution times differ from
run to run) and the truth's docking contact values. A change that is meant to change behaviour
regenerates the file, and its commit says why::

    .venv/bin/python -m tests.golden.flights      # rewrites tests/golden/runs.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from sims.runner import run_sil
from telemetry.archive import scan_apid

GOLDEN = Path(__file__).with_name("runs.json")
SCENARIOS = ("nominal", "fast_rendezvous")
# Packets whose content is decided by the flight software and the physics alone (no wall-clock timing).
DETERMINISTIC_PACKETS = ("NAV_STATE", "ATT_STATE", "GUIDANCE_STATE", "DOCKING_MONITOR", "PROPULSION",
                         "THERMAL_ZONES")
CONTACT_KEYS = ("time_s", "axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg",
                "roll_deg", "rates_deg_s")


def fly(scenario: str, out_dir: Path) -> dict:
    """Fly ``scenario`` on its own seed; return its digest (packet SHA-256 and counts, contact values)."""
    summary = run_sil(scenario, out_dir / scenario, progress=False)
    archive = (out_dir / scenario / "telemetry.ccsds").read_bytes()
    h = hashlib.sha256()
    counts = {}
    for name in DETERMINISTIC_PACKETS:
        scan = scan_apid(archive, name)
        h.update(name.encode())
        h.update(scan.records.tobytes())
        counts[name] = int(len(scan.records))
    dock = summary["docking"]
    contact = {k: (dock[k] if not isinstance(dock.get(k), dict) else dock[k]["value"]) for k in CONTACT_KEYS
               if k in dock}
    return {"packets_sha256": h.hexdigest(), "packet_counts": counts, "stop_reason": summary["stop_reason"],
            "mission_time_s": summary["mission_time_s"], "contact": contact}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        runs = {sc: fly(sc, Path(tmp)) for sc in SCENARIOS}
    GOLDEN.write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
