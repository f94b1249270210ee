"""The sensor models' declarations: draws per sample, noise streams, fault biases, one model per sensor device."""

from __future__ import annotations

import numpy as np
import pytest

from hal.devices import SENSORS
from sims.core.sensors import SENSOR_MODELS
from sims.scenario import BIAS_SIZES, SENSOR_SCHEMA
from sims.truth import DROPOUT_SPAWN_KEY, ENGINE_SPAWN_KEY, SENSOR_PARAMS, SENSOR_SPAWN_KEY, VEHICLE_SPAWN_KEY
from tests.sims.conftest import make_truth


def cursors(truth) -> np.ndarray:
    return truth._streams["cursor"].copy()


NO_LOSS = {"gyro": {"dropout_prob": 0.0}, "star_tracker": {"dropout_prob": 0.0}, "gnss_rel": {"dropout_prob": 0.0},
           "gnss_abs": {"dropout_prob": 0.0}, "lidar": {"dropout_prob": 0.0, "burst_start_prob": 0.0},
           "camera": {"dropout_prob": 0.0}, "thermistors": {"dropout_prob": 0.0}}  # noisy, but no sample lost


def taken(truth, model) -> int:
    """Samples ``model`` has measured so far (delivered, queued or lost)."""
    div = int(truth._p[model.name]["divisor"])
    return (int(truth._s[model.name]["next_due"]) - div) // div


def arrived(truth, model) -> int:
    """Samples ``model`` has delivered or holds in its delivery queue."""
    queued = int(truth._s[model.name]["q_count"]) if model.queued else 0
    return int(truth.devices[model.device]["seq"]) + queued


def sample_once(truth, model) -> None:
    """Run ``model``'s kernel on the truth's records at its current frame, due now."""
    p, s = truth._p[model.name], truth._s[model.name]
    s["next_due"] = truth._frame
    dev = truth.devices[model.device].reshape(1)[0]
    queue = (truth._queues[f"Q_{model.device}"],) if model.queued else ()
    extra = (truth._nodes,) if model.name == "thermistors" else ()
    model.kernel(p, s, dev, *queue, truth._p, truth._s, truth._noise, truth._streams, *extra)


@pytest.mark.parametrize("r_LVLH_m", [[0.0, -20.0, 0.0], [0.0, -403.0, 0.0], [0.0, -9000.0, 0.0]],
                         ids=["camera_range", "gnss_range", "beyond_every_range"])
@pytest.mark.parametrize("off", [False, True], ids=["on", "fault_off"])
@pytest.mark.parametrize("model", SENSOR_MODELS, ids=lambda m: m.name)
def test_sample_takes_exactly_the_declared_draws(model, r_LVLH_m, off):
    """Valid, invalid or lost, a sample takes its declared draws of its own stream and one of the dropout stream."""
    truth = make_truth(r_LVLH_m, quiet=False, sensors=NO_LOSS)
    truth.run(3)
    truth._s[model.name]["off"] = int(off)
    before, seq = cursors(truth), arrived(truth, model)
    sample_once(truth, model)
    moved = cursors(truth) - before
    p = truth._p[model.name]
    expected = np.zeros_like(moved)
    if model.spawn_key is not None:
        expected[p["stream"]] += model.draws_per_sample(p)
    if model.err_spawn_key is not None:
        expected[p["err_stream"]] += model.err_draws
    if model.dropout:
        expected[p["dropout_stream"]] += 1
    assert moved.tolist() == expected.tolist()
    assert arrived(truth, model) == seq + (0 if off else 1)


def test_a_run_moves_each_stream_by_its_models_samples_times_their_draws():
    """The frame and thermal kernels together: each stream's cursor moved by what the declarations say."""
    truth = make_truth([0.0, -403.0, 0.0], quiet=False)
    start = truth._streams["start"].copy()
    truth.run(300)  # inside the first noise block
    expected = np.zeros(len(start), dtype=np.int64)
    for m in SENSOR_MODELS:
        p = truth._p[m.name]
        samples = taken(truth, m)
        if m.spawn_key is not None:
            expected[p["stream"]] += samples * m.draws_per_sample(p)
        if m.err_spawn_key is not None:
            expected[p["err_stream"]] += samples * m.err_draws
        if m.dropout:
            expected[p["dropout_stream"]] += samples
    assert (truth._streams["cursor"] - start).tolist() == expected.tolist()


def test_noise_spawn_keys_are_all_different():
    keys = ([m.spawn_key for m in SENSOR_MODELS if m.spawn_key is not None]
            + [m.err_spawn_key for m in SENSOR_MODELS if m.err_spawn_key is not None]
            + [DROPOUT_SPAWN_KEY, VEHICLE_SPAWN_KEY, ENGINE_SPAWN_KEY, SENSOR_SPAWN_KEY])
    assert len(keys) == len(set(keys))


def test_every_sensor_device_has_one_model_with_a_scenario_table_and_its_params():
    assert sorted(m.device for m in SENSOR_MODELS) == sorted(SENSORS)
    assert sorted(m.name for m in SENSOR_MODELS) == sorted(SENSOR_SCHEMA) == sorted(SENSOR_PARAMS)


def test_fault_bias_of_each_model_has_the_length_the_scenario_check_allows():
    declared = {m.device: m.state["fault_bias"].shape[0] for m in SENSOR_MODELS if "fault_bias" in m.state.names}
    assert declared == dict(BIAS_SIZES)
