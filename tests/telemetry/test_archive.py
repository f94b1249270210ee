"""Archive files: append-only writing that survives a kill, robust reading, bulk decoding, CSV."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from telemetry.archive import ArchiveWriter, decode_apid, read_archive, scan_apid, to_csv
from telemetry.codec import PacketError, tm_codec
from telemetry.framing import frame

NAV = tm_codec("NAV_STATE")
GYRO = tm_codec("DEV_GYRO")


def _nav_values(i):
    return (1.0 * i, 2.0, 3.0, 0.1, 0.2, 0.3 * i, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 1, 2, i, 7, 0.001, -0.002, 0.0, 1)


def _mixed_packets(n=30):
    out = []
    for i in range(n):
        out.append(NAV.pack(i, i * 100_000_000, _nav_values(i)))
        out.append(GYRO.pack(i, i * 100_000_000 + 5, (0.0, 0.0, 0.0, 0.01 * i, 0.0, -0.01, 1)))
    return out


@pytest.fixture
def archive_path(tmp_path):
    path = tmp_path / "telemetry.ccsds"
    with ArchiveWriter(path) as w:
        for p in _mixed_packets():
            w.write(p)
    return path


def test_writer_counts_packets_by_apid(tmp_path):
    with ArchiveWriter(tmp_path / "a.ccsds") as w:
        for p in _mixed_packets(3):
            w.write(p)
    assert dict(w.counts) == {0x110: 3, 0x200: 3}


def test_file_holds_exactly_the_frames_written(archive_path):
    assert archive_path.read_bytes() == b"".join(frame(p) for p in _mixed_packets())


def test_writer_appends_to_an_existing_archive(archive_path):
    with ArchiveWriter(archive_path) as w:
        w.write(NAV.pack(0, 0, _nav_values(0)))
    assert len(read_archive(archive_path).packets) == 61


def test_write_after_close_raises(tmp_path):
    w = ArchiveWriter(tmp_path / "a.ccsds")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")


def test_killed_writer_keeps_every_packet_written_before_the_kill(tmp_path):
    path = tmp_path / "killed.ccsds"
    script = textwrap.dedent(f"""
        import os, signal
        from telemetry.archive import ArchiveWriter
        from telemetry.codec import tm_codec
        w = ArchiveWriter({str(path)!r})
        for i in range(500):
            w.write(tm_codec("DEV_GYRO").pack(i, i, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1)))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    assert len(read_archive(path).packets) == 500


def test_read_archive_returns_packets_with_offsets(archive_path):
    report = read_archive(archive_path)
    packets = _mixed_packets()
    assert [p for _, p in report.packets] == packets
    assert report.packets[1][0] == len(frame(packets[0]))


def test_truncated_archive_gives_every_complete_packet_and_reports_the_tail(archive_path):
    data = archive_path.read_bytes()
    archive_path.write_bytes(data[:-10])
    report = read_archive(archive_path)
    assert len(report.packets) == 59
    assert report.damage == [(len(data) - len(frame(_mixed_packets()[-1])), len(data) - 10, "truncated")]


def test_corrupted_frame_is_reported_at_its_offset(archive_path):
    data = bytearray(archive_path.read_bytes())
    offset = read_archive(archive_path).packets[10][0]
    data[offset + 20] ^= 0x40
    archive_path.write_bytes(bytes(data))
    report = read_archive(archive_path)
    assert len(report.packets) == 59
    assert [(s, r) for s, _, r in report.damage] == [(offset, "bad_crc")]


def test_empty_archive_has_no_packets_and_no_damage(tmp_path):
    (tmp_path / "e.ccsds").write_bytes(b"")
    report = read_archive(tmp_path / "e.ccsds")
    assert (report.packets, report.damage) == ([], [])


def test_decode_apid_columns_equal_per_packet_decoding(archive_path):
    cols = decode_apid(archive_path, "NAV_STATE")
    expected = [NAV.unpack(p) for p in _mixed_packets() if p[:2] == b"\x09\x10"]
    assert cols["t_ns"].tolist() == [t for _, t, _ in expected]
    assert cols["seq"].tolist() == [s for s, _, _ in expected]
    assert cols["r_LVLH_m"].tolist() == [list(v[:3]) for _, _, v in expected]
    assert cols["accepted"].tolist() == [v[14] for _, _, v in expected]


def test_decode_apid_gives_native_endian_columns(archive_path):
    cols = decode_apid(archive_path, 0x110)
    assert all(c.dtype.isnative for c in cols.values())


def test_decode_apid_array_fields_are_2d(archive_path):
    assert decode_apid(archive_path, "DEV_GYRO")["omega_BN_B_rad_s"].shape == (30, 3)


def test_decode_apid_accepts_bytes(archive_path):
    assert len(decode_apid(archive_path.read_bytes(), "DEV_GYRO")["t_ns"]) == 30


def test_decode_apid_drops_frame_with_bad_crc(archive_path):
    data = bytearray(archive_path.read_bytes())
    offset = read_archive(archive_path).packets[4][0]  # the third NAV_STATE frame
    data[offset + 30] ^= 0x01
    cols = decode_apid(bytes(data), "NAV_STATE")
    assert cols["accepted"].tolist() == [i for i in range(30) if i != 2]


def test_scan_apid_reports_bad_crc_damage(archive_path):
    data = bytearray(archive_path.read_bytes())
    offset = read_archive(archive_path).packets[4][0]
    data[offset + 30] ^= 0x01
    assert [(s, r) for s, _, r in scan_apid(bytes(data), "NAV_STATE").damage] == [(offset, "bad_crc")]


def test_decode_apid_resynchronises_after_garbage(archive_path):
    data = archive_path.read_bytes()
    cut = read_archive(archive_path).packets[7][0] + 3
    damaged = data[:cut] + b"\x1a\xcf\xfc\x1d\x09\x10garbage" + data[cut + 40:]
    cols = decode_apid(damaged, "DEV_GYRO")
    assert len(cols["t_ns"]) == 29


def test_decode_apid_of_unknown_apid_is_packet_error(archive_path):
    with pytest.raises(PacketError) as err:
        decode_apid(archive_path, 0x7FF)
    assert err.value.reason == "UNKNOWN_APID"


def test_csv_round_trips_floats_exactly(archive_path, tmp_path):
    cols = decode_apid(archive_path, "NAV_STATE")
    to_csv(cols, tmp_path / "nav.csv")
    with open(tmp_path / "nav.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["sigma_r_m[2]"]) for r in rows] == cols["sigma_r_m"][:, 2].astype(float).tolist()


def test_csv_has_one_column_per_array_element(archive_path, tmp_path):
    to_csv(decode_apid(archive_path, "DEV_GYRO"), tmp_path / "g.csv")
    header = (tmp_path / "g.csv").read_text().splitlines()[0]
    assert header == ("t_ns,seq,theta_B_rad[0],theta_B_rad[1],theta_B_rad[2],"
                      "omega_BN_B_rad_s[0],omega_BN_B_rad_s[1],omega_BN_B_rad_s[2],valid")


def test_csv_decodes_char_columns(tmp_path):
    path = tmp_path / "ev.ccsds"
    with ArchiveWriter(path) as w:
        w.write(tm_codec("EVENT").pack(0, 0, (5, 1, 2, 0.0, 0.0, b"capture")))
    to_csv(decode_apid(path, "EVENT"), tmp_path / "ev.csv")
    assert (tmp_path / "ev.csv").read_text().splitlines()[1].endswith(",capture")


def test_decoded_columns_equal_numpy_reference_for_many_packets(tmp_path):
    rng = np.random.default_rng(5)
    values = rng.normal(size=(2000, 12))
    path = tmp_path / "big.ccsds"
    with ArchiveWriter(path) as w:
        for i in range(2000):
            w.write(NAV.pack(i % 16384, i * 1000, (*values[i].tolist(), 1, 2, i, 0, 0.0, 0.0, 0.0, 0)))
    cols = decode_apid(path, "NAV_STATE")
    assert np.array_equal(cols["v_LVLH_mps"], values[:, 3:6])


def test_batched_writer_hands_packets_over_at_flush_and_close(tmp_path):
    from telemetry.archive import ArchiveWriter, read_archive
    from telemetry.framing import frame

    path = tmp_path / "batched.ccsds"
    packets = [bytes([0x08, 0x10 + k, 0xC0, k, 0x00, 0x01, 0xAA, k]) for k in range(5)]
    w = ArchiveWriter(path, batched=True)
    for p in packets[:3]:
        w.write(p)
    assert path.stat().st_size == 0  # nothing handed to the OS before the flush
    w.flush()
    assert path.read_bytes() == b"".join(frame(p) for p in packets[:3])
    for p in packets[3:]:
        w.write(p)
    w.close()  # close flushes what is left
    assert path.read_bytes() == b"".join(frame(p) for p in packets)
    assert w.packets_written == 5 and w.bytes_written == path.stat().st_size
    report = read_archive(path)
    assert [p for _, p in report.packets] == packets and report.damage == []
