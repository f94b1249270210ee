"""docs/app-contract.md's table of the shipped apps is what their classes declare."""

from __future__ import annotations

from pathlib import Path

from fsw.contract import contract_markdown
from fsw.executive.clock import SimClock
from fsw.topology import build_flight
from hal.sim import SimBackend
from sims.runner import flight_overrides
from sims.scenario import load_scenario
from sims.truth import Truth

DOC = Path(__file__).resolve().parents[2] / "docs" / "app-contract.md"


def test_the_pages_table_of_the_shipped_apps_is_generated_from_their_declarations():
    sc = load_scenario("final_approach")
    flight = build_flight(SimBackend(Truth(sc)), SimClock(sc.minor_frame_ns), lambda packet: None,
                          overrides=flight_overrides(sc))
    rows = flight.config["schedule"]
    table = contract_markdown(flight.apps, {r["task"]: r["budget_us"] for r in rows},
                              {r["task"]: r["rate_hz"] for r in rows})
    assert table in DOC.read_text(), "regenerate the table of docs/app-contract.md from fsw.contract.contract_markdown"
