"""``qz new-app NAME``: a minimal guidance app following the app contract (docs/app-contract.md), ready to fly.

Writes, under ``--root`` (default: the current folder, the project's root):

- ``NAME/app.py``: the app, the shipped approach guidance (holds, go/no-go, retreats, CAM) with its own translation
  law between the holds; ``NAME/kernel.py``: that law, a numba kernel to fill in; ``NAME/config.toml``: its config
  section ``[NAME]``; ``NAME/__init__.py``;
- ``tests/apps/test_NAME.py``: the kernel against its closed form, and final_approach flown with the app to docking
  inside the envelope; ``tests/bench/test_bench_NAME.py``: the kernel's and the app step's benchmarks (the step is
  judged against the guidance task's budget by ``make bench``).

Select it with ``[flight.apps] guidance = "NAME.app:<Name>Guidance"`` in a scenario (``qz`` and ``make`` find the
package in the folder they run from). Nothing is written when a name is bad or a target exists.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path

from telemetry.errors import InputError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,23}$")  # short enough for 120-character lines


class NewAppError(InputError):
    """A name or a target of ``qz new-app`` is refused (the message says which and why)."""


def register(sub) -> None:
    p = sub.add_parser("new-app", help="write a minimal guidance app, its kernel, config section, test and benchmark",
                       description="Write a guidance app following the app contract (docs/app-contract.md): "
                                   "NAME/app.py, NAME/kernel.py, NAME/config.toml, tests/apps/test_NAME.py and "
                                   "tests/bench/test_bench_NAME.py. Fill in the kernel; make test and make bench "
                                   "pass as written.")
    p.add_argument("name", metavar="NAME", help="the app's package name (lower case, digits, _; 2-24 characters)")
    p.add_argument("--root", default=".", help="the project folder to write into (default: the current folder)")
    p.set_defaults(func=_cmd)


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) + "Guidance"


def plan(name: str, root: str | Path) -> dict[Path, str]:
    """The files ``qz new-app`` writes (path -> text), after every check; raises NewAppError."""
    if not NAME_RE.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise NewAppError(f"NAME {name!r}: expected a Python package name: a lower-case letter, then lower-case "
                          "letters, digits or _ (2-24 characters)")
    root = Path(root)
    if not root.is_dir():
        raise NewAppError(f"--root {root}: not a folder")
    if (root / name).exists():
        raise NewAppError(f"NAME {name!r}: {root / name} already exists")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None or name in sys.builtin_module_names:
        raise NewAppError(f"NAME {name!r}: a module of that name is already importable "
                          f"({getattr(spec, 'origin', '')}); choose another")
    cls = class_name(name)
    kernel = f"from {name}.kernel import translation_law"
    imp = {"imports_app": _sorted_imports("from fsw.apps.guidance import CONTACT, ApproachGuidance",
                                          "from fsw.app import ConfigError",
                                          "from fsw.core.guidance import speed_profile, velocity_loop_accel", kernel),
           "imports_test": _sorted_imports("from sims.runner import run_sil", kernel),
           "imports_bench": _sorted_imports("from fsw.executive.clock import SimClock",
                                            "from fsw.topology import build_flight", "from hal.sim import SimBackend",
                                            "from sims.runner import flight_overrides",
                                            "from sims.scenario import load_scenario", "from sims.truth import Truth",
                                            kernel)}
    files = {
        root / name / "__init__.py": f'"""{name}: a guidance app written by `qz new-app {name}`."""\n',
        root / name / "kernel.py": KERNEL.format(name=name),
        root / name / "app.py": APP.format(name=name, cls=cls, **imp),
        root / name / "config.toml": CONFIG.format(name=name),
        root / "tests" / "apps" / f"test_{name}.py": TEST.format(name=name, cls=cls, **imp),
        root / "tests" / "bench" / f"test_bench_{name}.py": BENCH.format(name=name, cls=cls, **imp),
    }
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise NewAppError(f"NAME {name!r}: {existing[0]} already exists")
    return files


def _sorted_imports(*lines: str) -> str:
    """First-party ``from x import y`` lines in isort's order (the new package sorts among fsw, hal, sims ...)."""
    return "\n".join(sorted(lines, key=lambda line: line.split()[1].lower()))


def new_app(name: str, root: str | Path = ".") -> list[Path]:
    files = plan(name, root)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def _cmd(args) -> int:
    written = new_app(args.name, args.root)
    for path in written:
        print(f"wrote {path}")
    print(f'select it in a scenario: [flight.apps] guidance = "{args.name}.app:{class_name(args.name)}"; fill in '
          f"{args.name}/kernel.py, then make test and make bench")
    return 0


KERNEL = '''"""{name}: the translation law between the hold points (a numba kernel: pure, allocation-free)."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def translation_law(r_port_L_m, axis_L, speed_mps, k_lat_1_s, v_lat_max_mps, v_cmd_out):
    """Velocity command of the chaser port: close along the docking axis, null the lateral offset.

    Parameters
    ----------
    r_port_L_m : (3,) [m] chaser port w.r.t. the station port, LVLH.
    axis_L : (3,) unit docking axis, from the station port outward (a closing velocity is along -axis).
    speed_mps : [m/s] closing speed wanted here (the [guidance] speed profile at this distance).
    k_lat_1_s : [1/s] lateral position-to-velocity gain; v_lat_max_mps : [m/s] its limit.
    v_cmd_out : (3,) out, [m/s] commanded velocity, LVLH (a velocity loop with CW feed-forward tracks it).

    Returns
    -------
    float : [m] axial distance d = r_port . axis.

    Notes
    -----
    v_cmd = -speed axis - sat(k_lat r_lat, v_lat_max), r_lat = r_port - d axis. Replace it with your law.
    """
    d = r_port_L_m[0] * axis_L[0] + r_port_L_m[1] * axis_L[1] + r_port_L_m[2] * axis_L[2]
    lx = r_port_L_m[0] - d * axis_L[0]
    ly = r_port_L_m[1] - d * axis_L[1]
    lz = r_port_L_m[2] - d * axis_L[2]
    lat = math.sqrt(lx * lx + ly * ly + lz * lz)
    g = k_lat_1_s
    if k_lat_1_s * lat > v_lat_max_mps:
        g = v_lat_max_mps / lat
    v_cmd_out[0] = -speed_mps * axis_L[0] - g * lx
    v_cmd_out[1] = -speed_mps * axis_L[1] - g * ly
    v_cmd_out[2] = -speed_mps * axis_L[2] - g * lz
    return d
'''

APP = '''"""{name}: guidance with its own translation law between the holds (`qz new-app`).

Select it in a scenario (or ``[apps]`` in flight.toml) with
``[flight.apps] guidance = "{name}.app:{cls}"``.
The holds, station keeping, go/no-go, retreats, ground commands and the CAM are the shipped guidance's
(:class:`fsw.apps.guidance.ApproachGuidance`, which the other apps call); this app replaces the
translation from one hold to the next and to contact by :func:`{name}.kernel.translation_law`,
tracked by the shipped velocity loop. Contract (docs/app-contract.md): task ``guidance``; reads MODE,
NAV_STATE, ORBIT_REF; writes GUIDANCE_CMD, GUIDANCE_STATE (inherited); config section ``[{name}]``
of config.toml; budget: the guidance row of flight.toml.
"""

from __future__ import annotations

import numpy as np

{imports_app}


class {cls}(ApproachGuidance):
    """Publishes GUIDANCE_CMD and GUIDANCE_STATE; between holds, its kernel's law."""

    config_section = "{name}"
    config_file = "config.toml"

    @classmethod
    def from_context(cls, ctx):
        app = super().from_context(ctx)
        where = f"{{ctx.config_path}}: [{{cls.config_section}}]"
        for key in ("k_lat_1_s", "v_lat_max_mps"):
            value = ctx.config.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"{{where}}.{{key}}: expected a number > 0, got {{value!r}}")
        app.law_k_lat = float(ctx.config["k_lat_1_s"])
        app.law_v_lat_max = float(ctx.config["v_lat_max_mps"])
        app._r_port = np.zeros(3)
        app._accel = app.cmd["accel_LVLH_mps2"]
        return app

    def _step_closing(self, t_ns: int) -> None:
        np.add(self._r, self.port_L, out=self._r_port)
        d_axis = float(np.dot(self._r_port, self.axis))
        speed = speed_profile(d_axis, self.prof_r, self.prof_v)
        d = translation_law(self._r_port, self.axis, speed, self.law_k_lat, self.law_v_lat_max, self._v_cmd)
        velocity_loop_accel(self._r_port, self._v, self._v_cmd, float(self.orbit["n_rad_s"]), self.k_v, self.a_max,
                            self._accel)
        if self.target != CONTACT and d <= self.dist_m[self.target]:
            self._arrive(self.target, t_ns)
'''

CONFIG = '''# [{name}]: config section of {name}/app.py; each number: a source or [est].
[{name}]
k_lat_1_s = 0.02        # [est] lateral position-to-velocity gain (as gnc.toml [guidance].k_lat_1_s)
v_lat_max_mps = 0.05    # [est] lateral speed limit (as gnc.toml [guidance].v_lat_max_mps)
'''

TEST = '''"""{name}: its kernel against the closed form; final_approach flown with it docks."""

from __future__ import annotations

import numpy as np
import pytest

{imports_test}

AXIS = np.array([0.0, -1.0, 0.0])  # aft port on -V-bar


def test_on_the_axis_the_command_is_the_closing_speed_along_minus_axis():
    v = np.zeros(3)
    d = translation_law(np.array([0.0, -50.0, 0.0]), AXIS, 0.2, 0.02, 0.05, v)
    assert d == pytest.approx(50.0)
    np.testing.assert_allclose(v, [0.0, 0.2, 0.0], atol=1e-15)


def test_a_lateral_offset_is_commanded_back_at_the_gain_then_at_the_limit():
    v = np.zeros(3)
    translation_law(np.array([1.0, -50.0, 0.0]), AXIS, 0.2, 0.02, 0.05, v)
    np.testing.assert_allclose(v, [-0.02, 0.2, 0.0], atol=1e-15)
    translation_law(np.array([0.0, -50.0, 10.0]), AXIS, 0.2, 0.02, 0.05, v)
    np.testing.assert_allclose(v, [0.0, 0.2, -0.05], atol=1e-15)


def test_final_approach_flown_with_{name}_docks_inside_the_envelope(tmp_path):
    apps = {{"guidance": "{name}.app:{cls}"}}
    summary = run_sil("final_approach", tmp_path / "run", progress=False, overrides={{"flight": {{"apps": apps}}}})
    dock = summary["docking"]
    assert summary["stop_reason"] == "docked" and dock["captured"] and not dock["collided"], summary["stop_reason"]
    assert dock["failed_limits"] == []
    for key in ("axial_rate_mps", "lateral_rate_mps", "lateral_misalignment_m", "pitch_deg", "yaw_deg", "roll_deg",
                "rates_deg_s"):
        assert dock[key]["ok"], (key, dock[key])
'''

BENCH = '''"""{name}: the kernel, and the app's step in CLOSING judged against the guidance budget."""

from __future__ import annotations

import numpy as np

{imports_bench}


def test_bench_{name}_translation_law(benchmark):
    r, axis, v = np.array([0.5, -150.0, -0.3]), np.array([0.0, -1.0, 0.0]), np.zeros(3)
    translation_law(r, axis, 0.2, 0.02, 0.05, v)
    benchmark(translation_law, r, axis, 0.2, 0.02, 0.05, v)


def test_bench_{name}_app_step(benchmark):
    sc = load_scenario("final_approach")
    truth = Truth(sc, seed=sc.seed)
    apps = {{"guidance": "{name}.app:{cls}"}}
    overrides = flight_overrides(sc) | {{"apps": apps}}
    flight = build_flight(SimBackend(truth), SimClock(sc.minor_frame_ns), lambda packet: None, overrides=overrides,
                          post_frame=lambda t_ns: truth.step())
    flight.executive.run(n_frames=500)  # 5 s: the navigation converged, guidance at the 400 m hold
    app = flight.apps["guidance"]
    t_ns = flight.executive.clock.now_ns()
    app._start_segment(app.hold_index + 1, t_ns)  # leave the hold: the step flies this app's translation law
    app.step(t_ns)
    benchmark.extra_info["task"] = "guidance"
    benchmark.pedantic(app.step, args=(t_ns,), rounds=300, warmup_rounds=10)
'''
