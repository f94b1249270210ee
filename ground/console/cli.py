"""``qz console --link URL [--key-file F --spi N] [--http 127.0.0.1:8080] [--token T | --token-file F]``.

Options are checked before anything is served; bad input is one line on stderr and exit code 2
(``ground.cli``): a link URL that is no link, ``--tm-listen`` without a udp:// link, an unreadable or
world-readable key or token file, an ``--http`` address that is not HOST:PORT or is in use, and an
address off loopback without a token (the console commands the flight: off loopback, who may use it
must be known). The console then runs until Ctrl-C or SIGTERM, connecting to the link and reconnecting
by itself.
"""

from __future__ import annotations

import sys

from ground.console.config import load_flight_config
from ground.link import Uplink
from ground.options import UsageError, number, positive_seconds
from telemetry import sdls
from telemetry.addresses import host_port, is_loopback

DEFAULT_HTTP = "127.0.0.1:8080"
TOKEN_MIN_CHARS = 8
SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
positive_minutes = number(float, 0.0, 7 * 24 * 60.0, lo_open=True)


def check_link(url: str, tm_listen: str | None) -> None:
    """Refuse a --link that names no link (the flight need not be up yet: the console waits for it)."""
    if not url:
        raise UsageError("--link: expected tcp://HOST:PORT, udp://HOST:PORT or a pyserial URL")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("tcp", "udp"):
        host, port = host_port(url.split("://", 1)[1], "--link", UsageError)
        if port == 0:
            raise UsageError(f"--link {url}: port 0 names no server")
        if scheme == "udp" and tm_listen is None:
            raise UsageError(f"--link {url}: a udp:// link needs --tm-listen HOST:PORT (the flight's --tm-dest)")
    elif scheme and scheme not in SERIAL_SCHEMES:
        raise UsageError(f"--link {url}: unknown scheme {scheme!r} (tcp://, udp:// or a pyserial URL)")
    if tm_listen is not None:
        if scheme != "udp":
            raise UsageError("--tm-listen is for udp:// links (TCP and serial links carry telemetry themselves)")
        host_port(tm_listen, "--tm-listen", UsageError)


def read_token(token: str | None, token_file: str | None) -> str | None:
    """The console's token from the command line or a file only its owner can read; None without."""
    if token_file is not None:
        from pathlib import Path

        path = Path(token_file)
        try:
            sdls.check_private(path, "token file")
            lines = [x.strip() for x in path.read_text().splitlines() if x.strip()]
        except FileNotFoundError:
            raise UsageError(f"--token-file {token_file}: no such file") from None
        except sdls.KeyFileError as err:
            raise UsageError(f"--token-file: {err}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"--token-file {token_file}: {err}") from None
        if not lines:
            raise UsageError(f"--token-file {token_file}: empty")
        token, what = lines[0], f"--token-file {token_file}"
    else:
        what = "--token"
    if token is not None and (len(token) < TOKEN_MIN_CHARS or token != token.strip()):
        raise UsageError(f"{what}: a token of at least {TOKEN_MIN_CHARS} characters without surrounding spaces")
    return token


def build_options(args):
    from ground.console.server import Options

    check_link(args.link, args.tm_listen)
    host, port = host_port(args.http, "--http", UsageError)
    token = read_token(args.token, args.token_file)
    loopback = is_loopback(host)
    if not loopback and token is None:
        raise UsageError(f"--http {args.http}: not a loopback address; the console sends commands to the flight, "
                         f"so off loopback it needs --token or --token-file")
    uplink = Uplink(args.key_file, args.spi, args.arsn_file)
    cfg = load_flight_config(args.flight_config)
    return Options(link=args.link, tm_listen=args.tm_listen, uplink=uplink, cfg=cfg, host=host, port=port,
                   token=token, loopback=loopback, history_s=args.history * 60.0, stale_s=args.stale,
                   cmd_timeout_s=args.cmd_timeout)


def run(args) -> int:
    import asyncio

    from ground.console.server import Console

    opts = build_options(args)
    console = Console(opts)

    def ready(c) -> None:
        auth = f"authenticated uplink (SPI {opts.uplink.spi})" if opts.uplink.authenticated else "plain uplink"
        print(f"qz console: {c.url} for the flight at {opts.link} ({auth}"
              f"{', token required' if opts.token else ''}); Ctrl-C stops it", flush=True)

    asyncio.run(console.serve(ready))
    print("qz console: stopped", file=sys.stderr)
    return 0


def register(sub) -> None:
    c = sub.add_parser("console", help="web console of a running flight: overview, packets, plots, events, commands")
    c.add_argument("--link", required=True, metavar="URL",
                   help="the flight's ground link: tcp://HOST:PORT, udp://HOST:PORT (+ --tm-listen) or a pyserial URL")
    c.add_argument("--key-file", default=None, metavar="F",
                   help="'SPI hex-key' per line, owner-only: commands go up authenticated (the browser never sees it)")
    c.add_argument("--spi", type=int, default=None, help="which key of the key file (default: its only one)")
    c.add_argument("--arsn-file", default=None, metavar="S",
                   help="the client's last ARSN per SPI (default: KEY_FILE.ground-arsn, shared with qz cmd)")
    c.add_argument("--tm-listen", default=None, metavar="HOST:PORT",
                   help="udp:// links: where the flight sends telemetry (its --tm-dest)")
    c.add_argument("--http", default=DEFAULT_HTTP, metavar="HOST:PORT",
                   help=f"where the console serves its page (default {DEFAULT_HTTP}; off loopback a token is required)")
    tok = c.add_mutually_exclusive_group()
    tok.add_argument("--token", default=None, metavar="TEXT", help="password or token the page asks for")
    tok.add_argument("--token-file", default=None, metavar="F", help="the token in a file only its owner can read")
    c.add_argument("--history", type=positive_minutes, default=30.0, metavar="MIN",
                   help="[min] mission time of telemetry kept for the plots (default 30)")
    c.add_argument("--stale", type=positive_seconds, default=3.0, metavar="S",
                   help="[s] a connected link silent this long is shown lost (default 3)")
    c.add_argument("--cmd-timeout", type=positive_seconds, default=10.0, metavar="S",
                   help="[s] wait for each acknowledgement of a command (default 10)")
    c.add_argument("--flight-config", default=None, metavar="DIR",
                   help="the flight's configuration folder, for limits and names (default: the shipped fsw/config)")
    c.set_defaults(func=run)
