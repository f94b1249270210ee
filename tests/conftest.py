"""Test-suite wide: tests/ is on sys.path (shared helpers such as envelope.py), and the HIL link
suite's --port option is known to every pytest invocation from the repository root."""

from __future__ import annotations

import os


def pytest_addoption(parser):
    parser.addoption("--port", default=os.environ.get("QZ_HIL_PORT"),
                     help="real serial port with a loopback plug for the HAL link tests (also QZ_HIL_PORT)")
