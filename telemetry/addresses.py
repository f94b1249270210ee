"""Network addresses given on a command line: ``HOST:PORT``, and whether a host is loopback only.

The flight's ground link (``hal.ground_link``: ``--link``, ``--tm-dest``) and the console (``qz console``:
``--link``, ``--tm-listen``, ``--http``) read the same addresses the same way. This lives in ``telemetry``
because both may import it and it imports neither (tests/test_boundaries.py).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from telemetry.errors import InputError


def host_port(text: str, what: str, error: type[InputError] = InputError) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (IPv6 as ``[::1]:PORT``); ``error`` naming ``what`` if it is not one."""
    parts = urlsplit(f"//{text}")
    try:
        port = parts.port
    except ValueError:
        raise error(f"{what} {text!r}: the port must be a number in 0..65535") from None
    if not parts.hostname or port is None or parts.path or parts.query:
        raise error(f"{what} {text!r}: expected HOST:PORT")
    return parts.hostname, port


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address (IPv4-mapped IPv6 included)."""
    try:
        return ipaddress.ip_address(host).is_loopback or _mapped_loopback(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback
                               or _mapped_loopback(i[4][0]) for i in infos)


def _mapped_loopback(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return bool(mapped and mapped.is_loopback)
