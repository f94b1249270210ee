"""The ``qz`` command line: one entry point, one sub-command group per area.

Each area registers its own sub-commands with ``register(subparsers)``; this module only
assembles them, so a ground tool (``qz tlm``) never imports the flight software.

One error contract for every sub-command: bad input (an option, a file, a key, a port, a folder)
prints one line on stderr naming it and the reason, and exits 2, with no traceback. Argument types
refuse bad values while parsing; everything found later raises a
:class:`telemetry.errors.InputError` (``ScenarioError``, ``UsageError``, ``CampaignError`` ...),
caught here. Ctrl-C ends with a line and exit code 130, after the run folder's summary is written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata

from telemetry.errors import InputError

EXIT_USAGE = 2          # bad input, as argparse uses
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
DISTRIBUTION = "qingzhou-fsw"

# module path -> registers sub-commands (each module defines ``register(subparsers)``)
_AREAS = (
    "telemetry.cli",
    "ground.commands",
    "ground.timing",
    "ground.report",
    "ground.campaign",
    "ground.nees",
    "ground.link_cli",
    "ground.console.cli",
    "ground.newapp",
)


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: ``qz sim: error: argument --duration: expected ... (see ...)``."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text: object) -> str:
    """``text`` on one line (multi-line messages from libraries joined with ' / ')."""
    return " / ".join(line.strip() for line in str(text).splitlines() if line.strip())


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a tree that was never installed
        return "unknown (not installed)"


def _set_prog(parser: argparse.ArgumentParser) -> None:
    """Every sub-command knows its full name (``qz tlm decode``) for its error lines."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(prog=sub.prog)
                _set_prog(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="qz", description="Qingzhou flight-software emulator")
    parser.add_argument("--version", action="version", version=f"qz {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in _AREAS:
        importlib.import_module(module_name).register(sub)
    _set_prog(parser)
    return parser


def fail(prog: str, message: object) -> int:
    """The error contract: one line on stderr, exit code 2."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    # apps chosen by [flight.apps] "package.module:Class" are found in the current folder too (as under
    # `python -m`), last on the path so that it never hides an installed package (docs/app-contract.md)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # usage error (already printed), --help, --version
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    prog = getattr(args, "prog", "qz")
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        return fail(prog, err)
    except OSError as err:  # a path or port the user gave that the system refused
        return fail(prog, f"{err.filename}: {err.strerror}" if err.filename and err.strerror else err)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
