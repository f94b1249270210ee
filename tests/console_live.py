"""Shared by the console's browser tests and its benchmark: a paced ``qz sim --link`` and a ``qz console`` as
subprocesses (free ports, timeouts everywhere, killed in ``close``), and headless Debian Chromium driven by
Playwright through ``executable_path`` (Playwright's own browser download is not used).

Without Chromium or the ``playwright`` package, :func:`need_browser` skips with one line saying how to install
it; with ``QZ_REQUIRE_BROWSER=1`` (CI) it fails instead.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ground.screenshot import FLAGS, find_chromium

FLIGHT_NICE = -10         # the paced flight before the browser and the console, as a bench runs it real-time
START_TIMEOUT_S = 300.0   # [s] a cold numba cache compiles at the flight's start, on a shared machine
STOP_TIMEOUT_S = 30.0
INSTALL = "install Debian's chromium (apt-get install chromium) or set CHROMIUM=/path/to/chromium"


def need_browser() -> str:
    """Path of the Chromium to drive; skips (fails under QZ_REQUIRE_BROWSER=1) when it or Playwright is missing."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "no playwright package: pip install -e '.[dev]'"
    chromium = find_chromium()
    if missing is None and chromium is None:
        missing = f"no Chromium for the browser tests: {INSTALL}"
    if missing is not None:
        if os.environ.get("QZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"QZ_REQUIRE_BROWSER=1: {missing}")
        pytest.skip(missing)
    return chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key_file(folder: Path) -> Path:
    path = folder / "console.keys"
    path.write_text(f"7 {secrets.token_hex(32)}\n")
    os.chmod(path, 0o600)
    return path


def _flight_priority() -> None:
    """In the flight's process before it starts: a higher CPU priority when allowed (root, CI), else as is.
    At --pace 20 a frame is 0.5 ms of wall time: on a shared 2-core machine a flight that waits behind the
    browser skips frames, and its FDIR then sees thrusters misbehave that did not."""
    try:
        os.nice(FLIGHT_NICE)
    except OSError:
        pass


def _stop(proc: subprocess.Popen | None, sig=signal.SIGINT) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def _wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode} before listening: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout_s:g} s: {log.read_text()[-2000:]}")


class Flight:
    """``qz sim --scenario SCENARIO --pace PACE --link tcp://127.0.0.1:PORT --key-file K``; restartable."""

    def __init__(self, folder: Path, keys: Path, pace: float, scenario: str = "final_approach",
                 port: int | None = None):
        self.folder, self.keys, self.pace, self.scenario = folder, keys, pace, scenario
        self.port = port or free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.proc = None
        self.runs = 0

    @property
    def out(self) -> Path:
        """The run folder of the flight started last."""
        return self.folder / f"run{self.runs}"

    @property
    def events_log(self) -> Path:
        return self.out / "events.log"

    def start(self) -> Flight:
        self.runs += 1
        log = self.folder / f"flight{self.runs}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ground.cli", "sim", "--scenario", self.scenario, "--pace", str(self.pace),
             "--duration", "5400", "--link", self.url, "--key-file", str(self.keys), "--out",
             str(self.out), "--no-report", "--no-progress"],
            stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115 - a file, closed with the process
            preexec_fn=_flight_priority)
        _wait_listening(self.port, self.proc, log)
        return self

    def kill(self) -> None:
        """The flight dies at once (SIGKILL): no goodbye on the link."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        _stop(self.proc)


class ConsoleProcess:
    """``qz console --link URL --key-file K --http 127.0.0.1:0``: its URL from its first line."""

    def __init__(self, folder: Path, link: str, keys: Path, *extra: str):
        self.log = folder / "console.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ground.cli", "console", "--link", link, "--key-file", str(keys), "--http",
             "127.0.0.1:0", *extra], stdout=open(self.log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        deadline = time.monotonic() + START_TIMEOUT_S
        self.url = None
        while self.url is None:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", self.log.read_text())
            if found:
                self.url = found.group(1)
            elif self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"qz console did not start: {self.log.read_text()[-2000:]}")
            else:
                time.sleep(0.1)

    def close(self) -> None:
        _stop(self.proc, signal.SIGTERM)


def launch(playwright, chromium: str):
    """Headless Debian Chromium (fresh profile: Playwright makes one per launch)."""
    return playwright.chromium.launch(executable_path=chromium, headless=True,
                                      args=[f for f in FLAGS if f != "--headless"])
