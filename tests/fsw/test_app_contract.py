"""The app contract (fsw/contract.py): implementations chosen by configuration, checked at start-up."""

from __future__ import annotations

import shutil
import sys
import textwrap
from importlib import metadata

import pytest

from fsw.app import App
from fsw.apps.glideslope import GlideslopeGuidance
from fsw.apps.guidance import ApproachGuidance
from fsw.contract import ENTRY_POINT_GROUP, ContractError
from fsw.executive.clock import SimClock
from fsw.topology import CONFIG_DIR, build_flight
from hal.sim import SimBackend
from sims.runner import flight_overrides
from sims.scenario import load_scenario
from sims.truth import Truth


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("final_approach")


def build(sc, apps=None, config_dir=CONFIG_DIR, **flight):
    overrides = flight_overrides(sc) | flight
    if apps is not None:
        overrides["apps"] = apps
    return build_flight(SimBackend(Truth(sc)), SimClock(sc.minor_frame_ns), lambda packet: None,
                        overrides=overrides, config_dir=config_dir)


# ------------------------------------------------------------------------------------------- implementations
# module-level so that "tests.fsw.test_app_contract:Name" imports them

class NoStep(App):
    task = "guidance"
    writes = ("GUIDANCE_CMD", "GUIDANCE_STATE")


class WritesUndeclared(ApproachGuidance):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trace = self.bus.publish("GUIDANCE_TRACE", self.name)


class ReadsUndeclared(ApproachGuidance):
    reads = ("MODE", "ORBIT_REF")  # NAV_STATE left out, and read in start()


class NotAGuidance(App):
    task = "guidance"
    writes = ("GUIDANCE_CMD", "GUIDANCE_STATE")

    def step(self, t_ns):
        pass


class Monitor(App):
    """A user's own task: counts its calls."""

    task = "range_monitor"
    reads = ("NAV_STATE",)

    def start(self):
        self.nav = self.bus.get("NAV_STATE", self.name)
        self.calls = 0

    def step(self, t_ns):
        self.calls += 1


HERE = "tests.fsw.test_app_contract"


# ------------------------------------------------------------------------------------------- selection

def test_the_default_guidance_is_the_closing_profile_law(scenario):
    assert type(build(scenario).apps["guidance"]) is ApproachGuidance


def test_a_scenario_selects_the_glideslope_guidance_by_name(scenario):
    assert type(build(scenario, {"guidance": "glideslope"}).apps["guidance"]) is GlideslopeGuidance


def test_flight_toml_apps_table_selects_the_implementation(scenario, tmp_path):
    cfg = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, cfg)
    text = (cfg / "flight.toml").read_text().replace('guidance = "closing_profile"', 'guidance = "glideslope"')
    (cfg / "flight.toml").write_text(text)
    assert type(build(scenario, config_dir=cfg).apps["guidance"]) is GlideslopeGuidance


def test_a_module_path_selects_a_class_of_any_importable_package(scenario):
    flight = build(scenario, {"guidance": "fsw.apps.glideslope:GlideslopeGuidance"})
    assert type(flight.apps["guidance"]) is GlideslopeGuidance


def test_an_entry_point_of_an_installed_package_selects_its_class(scenario, tmp_path, monkeypatch):
    """A throwaway distribution, installed at test time as a dist-info beside its package on sys.path."""
    pkg = tmp_path / "qz_throwaway_guidance"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "law.py").write_text(textwrap.dedent("""
        from fsw.apps.guidance import ApproachGuidance


        class ThrowawayGuidance(ApproachGuidance):
            pass
    """))
    info = tmp_path / "qz_throwaway_guidance-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qz-throwaway-guidance\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nthrowaway = qz_throwaway_guidance.law:"
                                           "ThrowawayGuidance\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert metadata.version("qz-throwaway-guidance") == "0.1"
    flight = build(scenario, {"guidance": "throwaway"})
    assert type(flight.apps["guidance"]).__qualname__ == "ThrowawayGuidance"
    assert type(flight.apps["guidance"]).__module__ == "qz_throwaway_guidance.law"
    sys.modules.pop("qz_throwaway_guidance.law", None)
    sys.modules.pop("qz_throwaway_guidance", None)


def _config_with_monitor_row(tmp_path, budget_us: int):
    """A copy of the flight configuration with a [[schedule]] row for the user's task ``range_monitor``."""
    cfg = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, cfg)
    with open(cfg / "flight.toml", "a") as fh:
        fh.write(f'\n[[schedule]]\ntask = "range_monitor"\nrate_hz = 1\noffset = 7\nbudget_us = {budget_us}\n')
    return cfg


def test_a_users_own_task_is_scheduled_timed_and_budgeted_by_its_row(scenario, tmp_path):
    cfg = _config_with_monitor_row(tmp_path, 50)
    flight = build(scenario, {"range_monitor": f"{HERE}:Monitor"}, config_dir=cfg)
    flight.executive.run(n_frames=300)
    stats = flight.executive.stats_by_task["range_monitor"]
    assert flight.apps["range_monitor"].calls == 3
    assert stats.count == 3 and stats.budget_ns == 50_000


# ------------------------------------------------------------------------------------------- refusals

def refused(scenario, apps, *, config_dir=CONFIG_DIR) -> str:
    with pytest.raises(ContractError) as err:
        build(scenario, apps, config_dir=config_dir)
    return str(err.value)


def test_a_class_without_a_step_method_is_refused_naming_task_and_class(scenario):
    msg = refused(scenario, {"guidance": f"{HERE}:NoStep"})
    assert "guidance" in msg and f"{HERE}:NoStep" in msg and "no step(t_ns) method" in msg


def test_a_record_written_but_not_declared_is_refused(scenario):
    msg = refused(scenario, {"guidance": f"{HERE}:WritesUndeclared"})
    assert f"{HERE}:WritesUndeclared" in msg and "'GUIDANCE_TRACE' is written but not declared" in msg


def test_a_record_read_but_not_declared_is_refused(scenario):
    msg = refused(scenario, {"guidance": f"{HERE}:ReadsUndeclared"})
    assert f"{HERE}:ReadsUndeclared" in msg and "'NAV_STATE' is read but not declared" in msg


def test_a_task_with_no_budget_is_refused(scenario):
    msg = refused(scenario, {"range_monitor": f"{HERE}:Monitor"})
    assert "range_monitor" in msg and f"{HERE}:Monitor" in msg and "has no budget" in msg


def test_a_task_whose_row_budgets_nothing_is_refused(scenario, tmp_path):
    cfg = _config_with_monitor_row(tmp_path, 0)
    msg = refused(scenario, {"range_monitor": f"{HERE}:Monitor"}, config_dir=cfg)
    assert "has no budget" in msg and "budget_us = 0" in msg


def test_a_guidance_without_what_its_collaborators_call_is_refused(scenario):
    msg = refused(scenario, {"guidance": f"{HERE}:NotAGuidance"})
    assert "'hold'" in msg and "'cam'" in msg and f"{HERE}:NotAGuidance" in msg


@pytest.mark.parametrize("spec, why", [
    ("no_such_law", "no such implementation"),
    ("no_such_module:Law", "does not import"),
    (f"{HERE}:Missing", "has no 'Missing'"),
    (f"{HERE}:HERE", "is not a class derived from fsw.app.App"),
    (f"{HERE}:Monitor", "declares task = 'range_monitor', not 'guidance'"),
])
def test_a_wrong_implementation_is_refused_at_start_up(scenario, spec, why):
    msg = refused(scenario, {"guidance": spec})
    assert why in msg and repr(spec) in msg


def test_every_shipped_app_declares_what_it_publishes(scenario):
    flight = build(scenario)
    for name, app in flight.apps.items():
        assert set(type(app).writes) == flight.bus.published_by(name), name
