"""The runners' ground link: open the transport, load the keys and the ARSN state, apply the serving rules.

``qz sim`` and ``qz hil`` take ``--link URL [--key-file F] [--arsn-file S] [--tm-dest HOST:PORT]``; this
module turns them into the ``fsw.apps.ground_link.LinkSetup`` the topology serves. Rules: the key file
must be private to its owner; without keys only a loopback address is served (plain telecommands are
accepted from loopback only). Every refusal is a ``ValueError`` with a one-line message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fsw.apps.ground_link import LinkSetup
from hal.ground_link import LinkUrlError, open_transport
from telemetry import sdls

FLIGHT_ARSN_SUFFIX = ".flight-arsn"   # default ARSN state file of the flight: beside the key file
DRAIN_AT_END_S = 1.0                  # [s] wall time given to clients to take the last packets of a run


@dataclass(frozen=True)
class LinkOptions:
    """The command line's ground-link options."""

    url: str
    key_file: str | None = None
    arsn_file: str | None = None     # default: KEY_FILE.flight-arsn when keys are given
    tm_dest: str | None = None       # udp:// only: HOST:PORT telemetry goes to


def open_ground_link(opts: LinkOptions, service_every: int = 1) -> LinkSetup:
    """Check the options and open the link; ValueError (one line) when it must not be served.

    ``service_every``: link cycles between services of the transport (a SIL flying unpaced: less often).
    """
    keys = sdls.load_keys(opts.key_file) if opts.key_file else {}
    arsn_file = opts.arsn_file or (opts.key_file + FLIGHT_ARSN_SUFFIX if opts.key_file else None)
    last = sdls.load_arsn(arsn_file) if arsn_file else {}
    if arsn_file is not None and not Path(arsn_file).resolve().parent.is_dir():
        raise sdls.KeyFileError(f"--arsn-file {arsn_file}: its folder does not exist")
    transport = open_transport(opts.url, opts.tm_dest)
    if not keys and not transport.loopback:
        transport.close()
        raise LinkUrlError(f"--link {opts.url}: not a loopback address; serving it needs --key-file "
                           "(plain telecommands are accepted on loopback only)")
    persist = (lambda arsn: sdls.save_arsn(arsn_file, arsn)) if arsn_file else None
    return LinkSetup(transport, keys, last, persist, service_every)


def finish_link(app, setup: LinkSetup | None, wait_s: float = DRAIN_AT_END_S) -> None:
    """End of run: let clients take what is queued (at most ``wait_s``), then close the transport."""
    if setup is None:
        return
    try:
        deadline = time.perf_counter() + wait_s
        while app.drain() and time.perf_counter() < deadline:
            time.sleep(0.005)
    finally:
        setup.transport.close()
