"""Start-up fails fast and says why: a port that cannot be opened, a far end that never answers, a bad bench file."""

from __future__ import annotations

import os
import time

import pytest

from hal.serial_link import BenchFileError, PortError, SerialBackend, load_bench_file

FRAME_NS = 10_000_000


def _backend(url: str) -> SerialBackend:
    return SerialBackend(load_bench_file(url=url), FRAME_NS, lockstep=True)


def test_port_that_cannot_be_opened_fails_at_once_naming_it_and_the_os_error(tmp_path):
    backend = _backend(str(tmp_path / "no_such_tty"))
    t0 = time.perf_counter()
    with pytest.raises(PortError, match=r"no_such_tty: cannot open it: .*No such file"):
        backend.connect(timeout_s=30.0)
    assert time.perf_counter() - t0 < 2.0
    backend.close()


def test_silent_far_end_fails_when_the_connect_timeout_expires():
    master, slave = os.openpty()
    backend = _backend(os.ttyname(slave))
    t0 = time.perf_counter()
    try:
        with pytest.raises(PortError, match=r"no answer to the BENCH_TICK\(0\) handshake within the 0.3 s"):
            backend.connect(timeout_s=0.3)
        assert 0.3 <= time.perf_counter() - t0 < 2.0
    finally:
        backend.close()
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(("text", "reason"), [
    ("[[link]]\nport = 'loop://'\ndevices = ['DEV_NOPE']\n", "devices: 'DEV_NOPE' is not a device packet"),
    ("[[link]]\nport = 'loop://'\ndevices = 'DEV_GYRO'\n", "devices = [names]"),
    ("[[link]]\nport = 'loop://'\nbaud = -9600\ndevices = []\n", "baud: expected an integer > 0"),
    ("[[link]]\nport = 'loop://'\nreopen_s = nan\ndevices = []\n", "reopen_s: expected a number > 0"),
    ("[stale_s]\nDEV_GYRO = 0\n[[link]]\nport = 'loop://'\ndevices = []\n", "stale_s: DEV_GYRO: expected"),
    ("[[link]]\nport = 'loop://'\ndevices = ['DEV_GYRO']\n", "devices on no link"),
    ("[[lnk]]\n", "unknown keys ['lnk']"),
    ("port = \n", "not valid TOML"),
])
def test_bad_bench_file_is_refused_naming_the_file_and_key(tmp_path, text, reason):
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(BenchFileError) as err:
        load_bench_file(path)
    assert str(path) in str(err.value) and reason in str(err.value), str(err.value)


def test_bench_file_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(BenchFileError, match="is a folder"):
        load_bench_file(tmp_path)
