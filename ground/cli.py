"""The ``qz`` command line: one entry point, one sub-command group per area.

Each area registers its own sub-commands with ``register(subparsers)``; this module only
assembles them, so a ground tool (``qz tlm``) never imports the flight software.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module path -> registers sub-commands (each module defines ``register(subparsers)``)
_AREAS = (
    "telemetry.cli",
    "ground.commands",
    "ground.timing",
    "ground.report",
    "ground.campaign",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qz", description="Qingzhou flight-software emulator")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _AREAS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
