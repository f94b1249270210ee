"""Thermal control kernel step and FDIR evaluation with the shipped tables.

Run with ``pytest tests/bench/test_bench_thermal_fdir.py --benchmark-only --benchmark-enable``.
Targets [est] until the thermal and FDIR apps get their rows in flight.toml: the FDIR evaluation
of the shipped tables within 50 us (issue 6 brief, ~30 watchpoints at 10 Hz), the thermal kernel
over the five zones within 20 us (1 Hz task; a small fraction of the app's budget).
"""

import tomllib
from pathlib import Path

import numpy as np
import pytest

from fsw import fdir_engine as fe
from fsw.core import thermal as th
from fsw.messages import INTERNAL, dtype_of
from telemetry.dictionary import TM_BY_NAME

CONFIG = Path(th.__file__).parents[1] / "config"
FDIR_TARGET_US = 50.0
THERMAL_TARGET_US = 20.0
_MODES = {"off": th.MODE_OFF, "thermostat": th.MODE_THERMOSTAT, "pi": th.MODE_PI}


def _median_us(benchmark) -> float:
    return benchmark.stats.stats.median * 1e6


@pytest.fixture(scope="module")
def thermal_arrays():
    with open(CONFIG / "thermal.toml", "rb") as fh:
        cfg = tomllib.load(fh)
    zones = cfg["zone"]
    n = len(zones)
    prm = np.zeros(1, th.THERMAL_PARAMS)
    p = prm[0]
    p["n_zones"] = n
    for key in ("setpoint_C", "hysteresis_C", "kp_per_C", "ki_per_C_s", "heater_W"):
        p[key][:n] = [z[key] for z in zones]
    p["mode"][:n] = [_MODES[z["mode"]] for z in zones]
    p["order"][:n] = np.argsort([z["priority"] for z in zones], kind="stable")
    p["limit_W"], p["dt_s"], p["rate_tau_s"] = cfg["budget"]["power_limit_W"], 1.0, cfg["budget"]["rate_filter_tau_s"]
    rng = np.random.default_rng(6)
    therm = np.repeat(p["setpoint_C"][:n] + rng.normal(0.0, 2.0, n), 2)  # some zones below setpoint
    return dict(therm=therm, prm=prm, state=th.new_state())


def test_bench_thermal_step_five_zones(benchmark, thermal_arrays):
    a = thermal_arrays

    def step():
        return th.thermal_step(a["therm"], 0x3FF, a["prm"], a["state"])

    step()  # load or compile the kernel outside the measurement
    power_W, _ = benchmark(step)
    benchmark.extra_info["zones"] = int(a["prm"][0]["n_zones"])
    assert power_W <= a["prm"][0]["limit_W"]
    assert _median_us(benchmark) < THERMAL_TARGET_US


@pytest.fixture
def fdir_engine():
    real = {n: dtype_of(n) for n in (*TM_BY_NAME, *INTERNAL)}
    tables = fe.load_tables(CONFIG / "fdir.toml", real, include_pending=True)
    dtypes = fe.extend_records(real, tables.pending)
    bus = {name: np.zeros((), dt) for name, dt in dtypes.items()}
    # Nominal final approach: every record published, nothing out of limits.
    for rec in bus.values():
        rec["t_ns"] = 1
        rec["seq"] = 1
    bus["MODE"]["mode"] = 4  # FINAL_APPROACH
    bus["NAV_STATE"]["valid"] = 1
    bus["DOCKING_MONITOR"]["range_m"] = 50.0
    bus["DOCKING_MONITOR"]["range_rate_mps"] = -0.1
    bus["DOCKING_MONITOR"]["in_kos"] = 1
    bus["DOCKING_MONITOR"]["in_corridor"] = 1
    bus["THERMAL_ZONES"]["temp_C"] = [21.0, 4.0, 10.0, 0.0, -5.0]
    bus["THRUSTER_CHECK"]["response_ratio"] = np.nan
    bus["DEV_THERMISTORS"]["valid_mask"] = 0x3FF
    clock = {"t_ns": 0}
    engine = fe.FdirEngine(tables, bus, lambda: clock["t_ns"])
    engine.evaluate(0)  # compile outside the measurement
    return engine, bus, clock


def test_bench_fdir_evaluate_shipped_tables(benchmark, fdir_engine):
    """Includes refreshing the watched records' t_ns (~1 us each), as publishers would."""
    engine, bus, clock = fdir_engine
    watched = [bus[name] for name in sorted({w.message for w in engine.tables.watchpoints})]

    def step():
        clock["t_ns"] += 100_000_000  # 10 Hz
        for rec in watched:  # every watched record fresh, as in a nominal frame
            rec["t_ns"] = clock["t_ns"]
        return engine.evaluate()

    fired = benchmark(step)
    benchmark.extra_info["watchpoints"] = len(engine.wp_names)
    benchmark.extra_info["actionpoints"] = len(engine.ap_names)
    assert fired == []
    assert _median_us(benchmark) < FDIR_TARGET_US


def test_bench_fdir_evaluate_only(benchmark, fdir_engine):
    """evaluate() alone: the records' refresh is the publishers' cost, not FDIR's."""
    engine, _, clock = fdir_engine

    def step():
        clock["t_ns"] += 100_000_000
        return engine.evaluate(clock["t_ns"])

    benchmark(step)
    assert _median_us(benchmark) < FDIR_TARGET_US
