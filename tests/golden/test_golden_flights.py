"""Whole flights against their golden digests (tests/golden/flights.py): a refactor changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.golden.flights import GOLDEN, SCENARIOS, fly


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_flight_is_bit_identical_to_its_golden_digest(scenario, tmp_path):
    golden = json.loads(GOLDEN.read_text())[scenario]
    assert fly(scenario, tmp_path) == golden
