"""Per-client downlink queue: bounded, drop-oldest, counted; never blocks the executive."""

from __future__ import annotations

from collections import deque

WRITE_CHUNK = 65536  # [B] most bytes handed to one stream write


class ClientQueue:
    """Packets (or frames) waiting for one client.

    ``push`` never refuses: when ``max_items`` are waiting the oldest not yet started is dropped and
    counted, so a client that reads slowly or not at all loses the oldest telemetry, never delays a
    frame. ``drain(write)`` hands the queue to ``write(data) -> bytes accepted`` (0: would block,
    -1: the client is gone) as far as it takes them without waiting.

    Parameters
    ----------
    max_items : int
        Packets kept at most.
    datagram : bool
        One ``write`` per item (UDP); else items are joined into stream writes and a partly written
        item is finished before anything else.
    """

    __slots__ = ("max_items", "datagram", "_q", "_head_off", "dropped", "sent", "bytes_sent")

    def __init__(self, max_items: int, datagram: bool = False):
        if max_items < 1:
            raise ValueError(f"ClientQueue: max_items must be >= 1, got {max_items}")
        self.max_items = int(max_items)
        self.datagram = bool(datagram)
        self._q: deque[bytes] = deque()
        self._head_off = 0   # [B] of the head item already written (stream)
        self.dropped = 0     # items dropped, oldest first
        self.sent = 0        # items written completely
        self.bytes_sent = 0

    def __len__(self) -> int:
        return len(self._q)

    def push(self, item: bytes) -> None:
        q = self._q
        if len(q) >= self.max_items:
            # a partly written head must be finished, or the client's stream would lose its framing
            if self._head_off and len(q) > 1:
                del q[1]
            else:
                q.popleft()
                self._head_off = 0
            self.dropped += 1
        q.append(item)

    def drain(self, write) -> bool:
        """Write what the client takes now; False when it is gone (``write`` returned -1)."""
        q = self._q
        if self.datagram:
            while q:
                n = write(q[0])
                if n < 0:
                    return False
                if n == 0:
                    return True
                q.popleft()
                self.sent += 1
                self.bytes_sent += n
            return True
        while q:
            parts, size = [], 0
            for item in q:
                parts.append(item)
                size += len(item)
                if size >= WRITE_CHUNK:
                    break
            data = memoryview(b"".join(parts))[self._head_off:]
            n = write(data)
            if n < 0:
                return False
            self.bytes_sent += n
            done = n == len(data)
            n += self._head_off
            while q and n >= len(q[0]):
                n -= len(q.popleft())
                self.sent += 1
            self._head_off = n
            if not done:  # the client takes no more now
                return True
        return True
