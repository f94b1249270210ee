"""The authenticated telecommand format (telemetry.sdls): golden bytes, verification, key and ARSN files."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

import pytest

from telemetry import sdls
from telemetry.codec import tc_codec

KEY = bytes(range(32))
NOOP = tc_codec("NOOP").pack(5)


def test_wrap_golden_bytes():
    body = sdls.wrap(NOOP, 0x0102, 0x0A0B0C0D, KEY)
    tag = hmac.new(KEY, bytes([0x01, 0x02, 0x0A, 0x0B, 0x0C, 0x0D]) + NOOP, hashlib.sha256).digest()[:16]
    assert body == bytes([
        0x01, 0x02,              # SPI, big-endian
        0x0A, 0x0B, 0x0C, 0x0D,  # ARSN, big-endian
        *NOOP,                   # the telecommand packet, unchanged
        *tag,                    # HMAC-SHA-256 over SPI, ARSN and packet, first 16 bytes
    ])


def test_struct_layout_agrees_with_construct_declaration():
    body = sdls.wrap(NOOP, 7, 99, KEY)
    header = sdls.SecurityHeader.parse(body[:sdls.HEADER_SIZE])
    assert (header.spi, header.arsn) == (7, 99)
    assert sdls.SecurityTrailer.parse(body[-sdls.MAC_SIZE:]).mac == body[-sdls.MAC_SIZE:]
    assert sdls.SecurityHeader.build({"spi": 7, "arsn": 99}) == body[:sdls.HEADER_SIZE]


def test_verify_accepts_the_right_key():
    assert sdls.verify(sdls.wrap(NOOP, 7, 1, KEY), {7: KEY}) == ("OK", 7, 1, NOOP)


def test_verify_refuses_unknown_spi_and_bad_mac():
    body = sdls.wrap(NOOP, 7, 1, KEY)
    assert sdls.verify(body, {8: KEY})[0] == "UNKNOWN_SPI"
    assert sdls.verify(body, {7: bytes(32)})[0] == "BAD_MAC"
    flipped = bytearray(body)
    flipped[8] ^= 1
    assert sdls.verify(bytes(flipped), {7: KEY})[0] == "BAD_MAC"


def test_split_refuses_a_body_too_short_to_hold_a_packet():
    with pytest.raises(ValueError):
        sdls.split(bytes(sdls.OVERHEAD))


def _key_file(tmp_path, text, mode=0o600):
    path = tmp_path / "keys"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_key_file_read_with_comments_and_hex_spi(tmp_path):
    path = _key_file(tmp_path, f"# bench keys\n7 {KEY.hex()}\n0x10 {bytes(16).hex()}  # spare\n\n")
    assert sdls.load_keys(path) == {7: KEY, 16: bytes(16)}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_key_file_readable_or_writable_by_others_is_refused(tmp_path, mode):
    path = _key_file(tmp_path, f"7 {KEY.hex()}\n", mode)
    with pytest.raises(sdls.KeyFileError, match="other users") as err:
        sdls.load_keys(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, match", [
    ("7\n", "expected 'SPI hex-key'"),
    (f"x {KEY.hex()}\n", "not an integer"),
    (f"0 {KEY.hex()}\n", "not in 1..65535"),
    ("7 zz\n", "not hexadecimal"),
    ("7 00ff\n", "at least 16"),
    (f"7 {KEY.hex()}\n7 {KEY.hex()}\n", "twice"),
    ("# nothing\n", "no key"),
])
def test_bad_key_file_lines_are_named(tmp_path, text, match):
    with pytest.raises(sdls.KeyFileError, match=match):
        sdls.load_keys(_key_file(tmp_path, text))


def test_missing_key_file_is_one_line(tmp_path):
    with pytest.raises(sdls.KeyFileError, match="no such file"):
        sdls.load_keys(tmp_path / "absent")


def test_arsn_state_round_trips_and_is_private(tmp_path):
    path = tmp_path / "state"
    assert sdls.load_arsn(path) == {}
    sdls.save_arsn(path, {7: 12, 3: 1})
    assert sdls.load_arsn(path) == {7: 12, 3: 1}
    assert json.loads(path.read_text()) == {"arsn": {"3": 1, "7": 12}}
    assert os.stat(path).st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # no temporary file left behind


def test_corrupt_arsn_state_is_refused(tmp_path):
    path = tmp_path / "state"
    path.write_text("{not json")
    with pytest.raises(sdls.KeyFileError, match="ARSN file"):
        sdls.load_arsn(path)
