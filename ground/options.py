"""Argument types and checks shared by the ``qz`` sub-commands.

Each type refuses what makes no sense for its option (NaN, infinity, a negative or zero count, a
probability outside [0, 1), a missing file, a file where a folder is expected) with an
``argparse.ArgumentTypeError``; argparse then names the option, and ``ground.cli`` prints that as one
line and exits 2. Checks that need more than one option, or the file system at run time, raise
:class:`UsageError` instead.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from telemetry.errors import InputError


class UsageError(InputError):
    """A command-line option is wrong in a way its type alone cannot see (options together, the disk)."""


def number(kind: type = float, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False):
    """Argument type: a finite ``kind`` (int or float) within [lo, hi] (open ends where asked)."""
    def fmt(x) -> str:
        return str(x) if kind is int else f"{x:g}"

    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {fmt(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {fmt(hi)}")
    want = ("an integer" if kind is int else "a number") + (" " + " and ".join(parts) if parts else "")

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo)) or (
                hi is not None and (value >= hi if hi_open else value > hi)):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return value

    parse.__name__ = want
    return parse


positive_seconds = number(float, 0.0, lo_open=True)          # [s] a duration or timeout
nonneg_seconds = number(float, 0.0)                          # [s] a delay, a start time
probability = number(float, 0.0, 1.0, hi_open=True)          # a per-bit / per-byte rate
seed = number(int, 0, 2**32 - 1)                             # numpy SeedSequence entropy, one 32-bit word
count = number(int, 1)                                       # cases, workers
nonneg_count = number(int, 0)                                # retries, kept frames, a baud rate


def existing_file(text: str) -> Path:
    """Argument type: a path that names a readable regular file."""
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, expected a file")
    if not os.access(p, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: not readable")
    return p


def existing_dir(text: str) -> Path:
    """Argument type: a path that names an existing folder."""
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a file, expected a folder")
    return p


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Refuse an output folder that cannot be one: an existing file, or a place where no folder can be made.

    Nothing is created here (validation comes before anything touches the disk).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {path}: is a file, expected a folder")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{option} {path}: {probe} is a file, so no folder can be made there")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: {probe} is not writable")
    return p


def check_out_file(path: str | Path, option: str = "--out") -> Path:
    """Refuse an output file that cannot be written: a folder, or a missing or read-only parent folder."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {path}: is a folder, expected a file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: no folder {parent}")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable")
    return p
