"""Package boundaries of docs/architecture.md, enforced by reading every import with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"fsw", "hal", "telemetry", "sims", "ground"}


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            else:
                names.add(node.module)
    return names


def _files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", _files("fsw"), ids=lambda p: str(p.relative_to(ROOT)))
def test_fsw_imports_neither_sims_nor_serial(path):
    bad = {n for n in _imports(path) if _top(n) in ("sims", "serial")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("fsw"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_topology_knows_hal_backends(path):
    rel = path.relative_to(ROOT).as_posix()
    backends = {n for n in _imports(path) if n.startswith(("hal.sim", "hal.serial"))}
    assert rel == "fsw/topology.py" or not backends, f"{rel} imports HAL backends {sorted(backends)}"


@pytest.mark.parametrize("path", _files("fsw/core") + _files("sims/core"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_kernels_import_only_numpy_numba_math(path):
    """Kernels use numpy, numba, math and sibling kernels of their own core package, nothing above."""
    allowed = {"numpy", "numba", "math", "__future__"}
    own_core = ".".join(path.relative_to(ROOT).parts[:2])  # fsw.core or sims.core
    bad = {n for n in _imports(path) if _top(n) not in allowed and not n.startswith(own_core)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("telemetry"), ids=lambda p: str(p.relative_to(ROOT)))
def test_telemetry_imports_no_other_project_package(path):
    bad = {n for n in _imports(path) if _top(n) in PROJECT - {"telemetry"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("hal"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hal_imports_nothing_from_fsw(path):
    bad = {n for n in _imports(path) if _top(n) == "fsw"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("fsw") + _files("hal") + _files("sims"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_below_the_ground_imports_it(path):
    """The ground segment sits on top: flight software, HAL and the simulated world never import it."""
    bad = {n for n in _imports(path) if _top(n) == "ground"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("hal"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hal_reads_no_file_of_the_simulated_world(path):
    """The HAL serves a bench or real hardware: it must not reach into ``sims/`` for a file."""
    assert '"sims"' not in path.read_text(), f"{path.relative_to(ROOT)} names the sims folder"


def test_no_module_reads_system_time_outside_the_clocks():
    """Mission time comes from the clock object; the HAL's link timeouts from hal/timebase.py."""
    allowed = {"fsw/executive/clock.py", "hal/timebase.py"}
    offenders = []
    for path in _files("fsw") + _files("hal"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        text = path.read_text()
        if any(call in text for call in ("time.time(", "time.perf_counter", "time.monotonic", "datetime.now")):
            offenders.append(rel)
    assert not offenders, f"read the system time directly: {offenders}"


LINK_LOGIC = _files("fsw/link") + [ROOT / "fsw/apps/ground_link.py"]


@pytest.mark.parametrize("path", LINK_LOGIC, ids=lambda p: str(p.relative_to(ROOT)))
def test_ground_link_logic_in_fsw_does_no_io(path):
    """Queues and authentication are pure: sockets and ports are hal.ground_link's, chosen by the runner."""
    bad = {n for n in _imports(path) if _top(n) in ("socket", "select", "selectors", "serial", "os", "hal", "io")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", [ROOT / "ground/link.py", ROOT / "ground/link_cli.py"] + _files("ground/console"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_ground_link_tools_talk_to_the_flight_only_over_the_link(path):
    """``qz cmd``, ``qz tlm listen`` and ``qz console`` use the link and the telemetry library, never the flight
    software."""
    bad = {n for n in _imports(path) if _top(n) in ("fsw", "hal", "sims")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
