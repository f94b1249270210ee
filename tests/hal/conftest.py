"""The link test suite runs against loop:// and a pseudo-terminal pair, and against a real port when one is given.

``pytest tests/hal --port /dev/ttyUSB0`` (or ``QZ_HIL_PORT=/dev/ttyUSB0``) adds that port to the transports;
it needs a loopback plug (TX wired to RX), as pyserial's own test suite does.
"""

from __future__ import annotations

import pytest

from hal.serial_link import SerialLink


class LinkPair:
    """A sending and a receiving link over one transport (the same link when the transport loops back)."""

    def __init__(self, tx: SerialLink, rx: SerialLink, raw_write, closers=()):
        self.tx, self.rx, self.raw_write = tx, rx, raw_write
        self._closers = closers

    def close(self):
        for link in {id(self.tx): self.tx, id(self.rx): self.rx}.values():
            link.close()
        for c in self._closers:
            c()


def _transports(config) -> list[str]:
    out = ["loop", "pty"]
    if config.getoption("--port", default=None):
        out.append("port")
    return out


def pytest_generate_tests(metafunc):
    explicit = any(m.name == "parametrize" and "link_pair" in m.args[0] for m in metafunc.definition.iter_markers())
    if "link_pair" in metafunc.fixturenames and not explicit:
        metafunc.parametrize("link_pair", _transports(metafunc.config), indirect=True)


@pytest.fixture
def link_pair(request, tmp_path):
    from sims.bench import PtyPort

    kind = request.param
    if kind == "loop":
        link = SerialLink("loop://", name="loop")
        assert link.open(background=False)
        pair = LinkPair(link, link, lambda data: link._port.write(data))
    elif kind == "pty":
        path = tmp_path / "port"
        master = SerialLink(f"pty-master:{path}", opener=lambda url, baud: PtyPort(path), name="master")
        assert master.open(background=False)
        slave = SerialLink(str(path), name="slave")
        assert slave.open(background=False)
        pair = LinkPair(master, slave, lambda data: master._port.write(data))
    else:
        url = request.config.getoption("--port")
        link = SerialLink(url, name=url)
        assert link.open(background=False), f"cannot open {url}"
        pair = LinkPair(link, link, lambda data: link._port.write(data))
    yield pair
    pair.close()
