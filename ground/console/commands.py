"""The console's command desk: telecommands from the panel, checked, sent through the link, acknowledged.

Each command is checked again here, whatever the page checked (``ground.link.build_command``: the
dictionary's ranges and enum values); a hazardous one is refused without an explicit confirmation,
and with it goes as ARM, then (once ARM is COMPLETED) the command, as ``qz cmd`` does. Commands go one
at a time, each wrapped by the console's :class:`ground.link.Uplink` (SDLS header and MAC when the
console holds a key: the browser never sees it). The history keeps each command with its
acknowledgements: ACCEPTED, COMPLETED, or REJECTED with the reason; NO ACK after ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque

from ground.console.state import GroundState, ack_text, not_from_panel
from ground.link import LinkError, Uplink, build_command
from telemetry import sdls
from telemetry.dictionary import CMD_BY_NAME
from telemetry.errors import InputError
from telemetry.headers import SEQ_COUNT_MOD

HISTORY_KEPT = 500
FINAL = ("COMPLETED", "REJECTED")


class CommandRefused(InputError):
    """A command the console does not send (unknown, a bad argument, no confirmation, link down)."""


def _header(packet: bytes) -> tuple[int, int, int]:
    """(apid, function code, sequence count) of a telecommand packet: what its CMD_ACK names."""
    return (packet[0] & 0x07) << 8 | packet[1], packet[6] & 0x7F, (packet[2] & 0x3F) << 8 | packet[3]


class CommandDesk:
    """Checks, sends and follows the console's telecommands; ``publish(message)`` tells the pages."""

    def __init__(self, worker, uplink: Uplink, state: GroundState, publish, timeout_s: float = 10.0):
        self.worker, self.uplink, self.state, self.publish = worker, uplink, state, publish
        self.timeout_s = timeout_s
        self.history: deque = deque(maxlen=HISTORY_KEPT)
        self._ids = itertools.count(1)
        self._plain_seq = int(time.time() * 10) % SEQ_COUNT_MOD  # no ARSN without a key: a count of our own
        self._waiting: dict[tuple, tuple] = {}
        self._lock = asyncio.Lock()
        self._tasks: set = set()
        state.ack_listeners.append(self._on_ack)

    def check(self, name, args) -> tuple:
        """(Command, {arg: text}) of a request; CommandRefused naming what is wrong."""
        if not isinstance(name, str) or name.upper() not in CMD_BY_NAME:
            raise CommandRefused(f"unknown command {name!r}")
        cmd = CMD_BY_NAME[name.upper()]
        why = not_from_panel(cmd)
        if why:
            raise CommandRefused(f"{cmd.name} is not sent from the console: {why}")
        if not isinstance(args, dict):
            raise CommandRefused(f"{cmd.name}: arguments must be an object of name: value")
        texts = {}
        for k, v in args.items():
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                raise CommandRefused(f"{cmd.name}: argument {k}: {v!r} is not a number or a name")
            texts[str(k)] = str(v).strip()
        try:
            build_command(cmd.name, texts, 0)
        except LinkError as err:
            raise CommandRefused(str(err)) from None
        return cmd, texts

    async def submit(self, name, args, confirm=False) -> dict:
        """Queue one command from the panel; its history entry. CommandRefused when it is not sent."""
        cmd, texts = self.check(name, args)
        if cmd.hazardous and confirm is not True:
            raise CommandRefused(f"{cmd.name} is hazardous: it needs an explicit confirmation "
                                 f"(then it goes as ARM + {cmd.name})")
        if self.worker.status.state != "connected":
            raise CommandRefused(f"not sent: the link is {self.worker.status.state} ({self.worker.status.reason})")
        entry = {"id": next(self._ids), "name": cmd.name, "args": texts, "hazardous": cmd.hazardous,
                 "wall_ms": time.time() * 1e3, "mission_t": self.state.last_t_s, "status": "QUEUED",
                 "reason": None, "steps": []}
        self.history.append(entry)
        self._tell(entry)
        task = asyncio.get_running_loop().create_task(self._run(entry, cmd, texts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return entry

    def _tell(self, entry: dict) -> None:
        self.publish({"k": "cmd", "entry": entry})

    async def _run(self, entry, cmd, texts) -> None:
        async with self._lock:
            try:
                if cmd.hazardous:
                    arm = await self._step(entry, "ARM", {"target_fc": str(cmd.function_code)})
                    if arm == "REJECTED":
                        entry["status"], entry["reason"] = "NOT SENT", f"ARM rejected: {entry['reason']}"
                    if arm != "COMPLETED":  # NO ACK keeps its own status and reason
                        self._tell(entry)
                        return
                await self._step(entry, cmd.name, texts)
            except (LinkError, sdls.KeyFileError) as err:
                entry["status"], entry["reason"] = "NOT SENT", str(err)
            self._tell(entry)

    def _prepare(self, name: str, texts: dict) -> tuple[bytes, bytes]:
        """(packet, frame body): the sequence count from the ARSN, which another client may have moved on."""
        up = self.uplink
        if up.authenticated:
            on_disk = sdls.load_arsn(up.arsn_file).get(up.spi, 0)
            up.last[up.spi] = max(up.last.get(up.spi, 0), on_disk)
            seq = up.next_seq()
        else:
            self._plain_seq = (self._plain_seq + 1) % SEQ_COUNT_MOD
            seq = self._plain_seq
        packet = build_command(name, texts, seq)
        return packet, up.wrap(packet)

    async def _step(self, entry: dict, name: str, texts: dict) -> str:
        """Send one telecommand and wait for its final acknowledgement: COMPLETED, REJECTED or NO ACK."""
        packet, body = await asyncio.to_thread(self._prepare, name, texts)  # the ARSN file is fsync'd
        key = _header(packet)
        step = {"cmd": name, "seq": key[2], "acks": [], "status": "SENT"}
        entry["steps"].append(step)
        entry["status"] = "SENT" if name == entry["name"] else f"{name} SENT"
        done = asyncio.get_running_loop().create_future()
        self._waiting[key] = (entry, step, done)
        try:
            self.worker.send(body)
            self._tell(entry)
            try:
                return await asyncio.wait_for(done, self.timeout_s)
            except TimeoutError:
                step["status"] = "NO ACK"
                entry["status"], entry["reason"] = "NO ACK", f"{name}: no acknowledgement within {self.timeout_s:g} s"
                return "NO ACK"
        finally:
            self._waiting.pop(key, None)

    def _on_ack(self, values: dict) -> None:
        waiting = self._waiting.get((values["cmd_apid"], values["function_code"], values["cmd_seq"]))
        if waiting is None:
            return
        entry, step, done = waiting
        status, reason = ack_text(values)
        step["acks"].append({"status": status, "reason": reason, "t": self.state.last_t_s})
        step["status"] = status
        own = step["cmd"] == entry["name"]
        entry["status"] = status if own else f"{step['cmd']} {status}"
        entry["reason"] = reason
        self._tell(entry)
        if status in FINAL and not done.done():
            done.set_result(status)
