"""The console's web server (aiohttp): the page, its schema, a WebSocket of live updates, the command desk.

Routes: ``/`` the page; ``/static/*`` its script and style; ``/vendor/plotly.min.js`` the plotting library
as shipped inside the ``plotly`` Python package (nothing comes from outside: the page works offline);
``/api/schema`` the packets and commands (from the dictionary); ``/api/history?key=K`` the kept history of
one packet; ``POST /api/command`` one telecommand; ``/ws`` the live updates (a JSON array of messages per
WebSocket message: each browser gets everything, coalesced when it reads slowly).

Security: a request must name this server in its ``Host`` header when it listens on loopback (no DNS
rebinding), a POST or WebSocket must come from the page's own origin, and a command must be sent as
``application/json`` (no cross-site form). With a token (required off loopback), every route but
``/login`` needs the session cookie that ``/login`` gives for the token, or ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import html
import json
import math
import secrets
import signal
import threading
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ground.console.commands import CommandDesk, CommandRefused
from ground.console.config import FlightConfig
from ground.console.link import LinkWorker
from ground.console.state import GroundState, schema
from ground.link import Uplink
from telemetry.errors import InputError

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "qz_console"
CLIENT_BACKLOG = 20_000    # messages waiting for one slow browser; the oldest are dropped beyond
STATUS_EVERY_S = 1.0       # [s] link status to the pages (the age of the last packet moves on)
HANDOFF_BATCHES = 8        # link reads handed to the event loop and not yet decoded


class ServeError(InputError):
    """The console cannot serve (the --http address is in use, cannot be resolved ...); one line."""


@dataclass
class Options:
    link: str
    tm_listen: str | None
    uplink: Uplink
    cfg: FlightConfig
    host: str
    port: int
    token: str | None
    loopback: bool
    history_s: float = 1800.0
    stale_s: float = 3.0
    cmd_timeout_s: float = 10.0


def _dumps(msg) -> str:
    try:
        return json.dumps(msg, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a derived value that is not finite: JSON has no NaN
        return json.dumps(_finite(msg), separators=(",", ":"), allow_nan=False)


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


class Browser:
    """One page's WebSocket: messages queue here and go out as one JSON array per send."""

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.pending: deque[str] = deque()
        self.ready = asyncio.Event()
        self.dropped = 0

    def push(self, text: str) -> None:
        if len(self.pending) >= CLIENT_BACKLOG:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(text)
        self.ready.set()

    async def pump(self) -> None:
        while not self.ws.closed:
            await self.ready.wait()
            self.ready.clear()
            if not self.pending:
                continue
            batch = "[" + ",".join(self.pending) + "]"
            self.pending.clear()
            try:
                await self.ws.send_str(batch)
            except (ConnectionError, RuntimeError):  # the page went away while we wrote
                return


class Console:
    """The running console: link worker, ground state, command desk, browsers."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.state = GroundState(opts.cfg, opts.history_s)
        self.browsers: set[Browser] = set()
        self._handoff = threading.BoundedSemaphore(HANDOFF_BATCHES)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.worker = LinkWorker(opts.link, opts.tm_listen, self._packets_from_thread, self._status_from_thread,
                                 stale_s=opts.stale_s)
        self.desk = CommandDesk(self.worker, opts.uplink, self.state, self.publish, opts.cmd_timeout_s)
        self.schema = schema(opts.cfg, opts.link, opts.history_s, opts.uplink.authenticated)
        self.sessions: set[str] = set()
        self.allowed_hosts = None
        self._allow_hosts()

    def _allow_hosts(self) -> None:
        """On loopback, the Host names this server answers to (a rebinding DNS name is refused)."""
        opts = self.opts
        if opts.loopback:
            names = {"127.0.0.1", "localhost", "[::1]", opts.host if ":" not in opts.host else f"[{opts.host}]"}
            self.allowed_hosts = {f"{n}:{opts.port}".lower() for n in names}

    # -- from the link thread

    def _packets_from_thread(self, packets, rx_ms) -> None:
        # at most HANDOFF_BATCHES reads wait for the event loop: a console that cannot keep up (an unpaced flight)
        # stops reading, the socket fills, and the flight drops the oldest packets of our queue (it never waits)
        while not self._handoff.acquire(timeout=0.5):
            if self.worker.halted:
                return
        self.loop.call_soon_threadsafe(self._ingest, packets, rx_ms)

    def _status_from_thread(self, status) -> None:
        self.loop.call_soon_threadsafe(self.publish, status.as_dict())

    def _ingest(self, packets, rx_ms) -> None:
        try:
            texts = []
            for p in packets:
                texts.extend(_dumps(m) for m in self.state.ingest(p, rx_ms))
            for b in self.browsers:
                for t in texts:
                    b.push(t)
        finally:
            self._handoff.release()

    def publish(self, msg: dict) -> None:
        text = _dumps(msg)
        for b in self.browsers:
            b.push(text)

    # -- HTTP

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self._index),
            web.get("/favicon.ico", self._no_icon),
            web.get("/static/{name}", self._static),
            web.get("/vendor/plotly.min.js", self._plotly),
            web.get("/api/schema", self._schema),
            web.get("/api/history", self._history),
            web.get("/api/status", self._status),
            web.post("/api/command", self._command),
            web.get("/ws", self._ws),
            web.get("/login", self._login_form),
            web.post("/login", self._login),
        ])
        return app

    def _authorized(self, request: web.Request) -> bool:
        token = self.opts.token
        if token is None:
            return True
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), token.encode()):
            return True
        return request.cookies.get(COOKIE, "") in self.sessions

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        host = request.headers.get("Host", "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return web.Response(status=421, text=f"this console answers to {sorted(self.allowed_hosts)[0]} only\n")
        if request.method != "GET" or request.path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc.lower() != host:
                return web.Response(status=403, text="cross-origin request refused\n")
        public = request.path in ("/login", "/favicon.ico", "/static/console.css")  # the login page and its style
        if not public and not self._authorized(request):
            if request.path == "/":
                raise web.HTTPFound("/login")
            return web.json_response({"error": "log in first (/login) or send Authorization: Bearer TOKEN"},
                                     status=401)
        return await handler(request)

    async def _index(self, request):
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _no_icon(self, request):
        return web.Response(status=204)

    async def _static(self, request):
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def _plotly(self, request):
        path = resources.files("plotly") / "package_data" / "plotly.min.js"
        with resources.as_file(path) as p:
            return web.FileResponse(p, headers={"Cache-Control": "max-age=86400"})

    async def _schema(self, request):
        return web.json_response(self.schema)

    async def _history(self, request):
        key = request.query.get("key", "")
        try:
            since = float(request.query["since"]) if "since" in request.query else None
        except ValueError:
            return web.json_response({"error": "since: not a number"}, status=400)
        return web.Response(text=_dumps(self.state.history_of(key, since)), content_type="application/json")

    async def _status(self, request):
        return web.Response(text=_dumps({**self.worker.status.as_dict(), "mission_t": self.state.last_t_s,
                                         "mode": self.state.mode, "packets_decoded": self.state.packets,
                                         "undecodable": self.state.undecodable, "browsers": len(self.browsers),
                                         "dropped_to_browsers": sum(b.dropped for b in self.browsers)}),
                            content_type="application/json")

    async def _command(self, request):
        if request.content_type != "application/json":
            return web.json_response({"error": "send the command as application/json"}, status=415)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "expected {name, args, confirm}"}, status=400)
        try:
            entry = await self.desk.submit(body.get("name"), body.get("args", {}), body.get("confirm", False))
        except CommandRefused as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.Response(text=_dumps({"entry": entry}), content_type="application/json")

    async def _ws(self, request):
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        browser = Browser(ws)
        browser.push(_dumps(self.worker.status.as_dict()))
        browser.push(_dumps(self.state.snapshot()))
        browser.push(_dumps({"k": "cmds", "history": list(self.desk.history)}))
        self.browsers.add(browser)
        pump = asyncio.get_running_loop().create_task(browser.pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.browsers.discard(browser)
            pump.cancel()
        return ws

    async def _login_form(self, request, error: str = ""):
        note = f'<p class="err">{html.escape(error)}</p>' if error else ""
        return web.Response(content_type="text/html", text=(
            "<!doctype html><html><head><meta charset=utf-8><title>qz console: log in</title>"
            '<link rel=stylesheet href="/static/console.css"></head><body class="login"><form method=post>'
            f"<h1>Qingzhou ground console</h1>{note}<label>Token or password "
            '<input type=password name=token autofocus></label> <button>Log in</button></form></body></html>'))

    async def _login(self, request):
        form = await request.post()
        token = str(form.get("token", ""))
        if self.opts.token is None:
            raise web.HTTPFound("/")
        if not hmac.compare_digest(token.encode(), self.opts.token.encode()):
            await asyncio.sleep(0.5)  # a guessing script waits
            return await self._login_form(request, "wrong token")
        session = secrets.token_urlsafe(32)
        self.sessions.add(session)
        resp = web.HTTPFound("/")
        resp.set_cookie(COOKIE, session, httponly=True, samesite="Strict", path="/")
        raise resp

    # -- running

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            self.publish(self.worker.status.as_dict())

    async def start(self) -> None:
        """Bind the --http address (ServeError when it cannot be), start the link thread and the status beat."""
        self.loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.opts.host, self.opts.port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            why = "address in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
            raise ServeError(f"--http {self.opts.host}:{self.opts.port}: {why}") from None
        if self.opts.port == 0:  # the system chose the port: the Host check and the URL name it
            self.opts.port = self._runner.addresses[0][1]
            self._allow_hosts()
        self.worker.start()
        self._beat = self.loop.create_task(self._heartbeat())

    async def close(self) -> None:
        self._beat.cancel()
        self.worker.stop()
        for b in list(self.browsers):
            await b.ws.close()
        await self._runner.cleanup()
        await asyncio.to_thread(self.worker.join, 2.0)

    async def serve(self, ready=None) -> None:
        """Serve until SIGINT or SIGTERM; ``ready(console)`` once listening. ServeError when it cannot bind."""
        await self.start()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready(self)
        try:
            await stop.wait()
        finally:
            await self.close()

    @property
    def url(self) -> str:
        host = f"[{self.opts.host}]" if ":" in self.opts.host else self.opts.host
        return f"http://{host}:{self.opts.port}/"
