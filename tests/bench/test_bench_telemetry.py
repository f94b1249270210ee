"""Telemetry speed (``make bench``): per-packet fast codec vs construct, deframing, archive writes, and
bulk decoding of 100,000 archived packets vs ccsdspy's FixedLength reader on the same packets.

Targets (issue 2): fast encode and decode <= 3 us per packet, >= 15x faster than construct; bulk
decode (CRC verified) >= 1.5x ccsdspy's packets/s. Ratios use medians measured in this same run.
Skipped by the normal ``pytest`` run (``--benchmark-skip``); run with
``pytest tests/bench/test_bench_telemetry.py --benchmark-only --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pytest

from telemetry.archive import ArchiveWriter, decode_apid
from telemetry.codec import (
    construct_pack_tm,
    construct_unpack_tm,
    parse_command,
    tc_codec,
    tm_codec,
)
from telemetry.dictionary import TM_BY_NAME, record_dtype
from telemetry.framing import Deframer, frame

pytestmark = pytest.mark.benchmark(group="telemetry", warmup=True)

PACKET = "NAV_STATE"            # 107 B, arrays of f64 and f32 plus integers: a typical flight packet
CODEC_TARGET_S = 3e-6           # [s] per packet, fast encode and decode
SPEEDUP_OVER_CONSTRUCT = 15.0
BULK_PACKETS = 100_000
BULK_SPEEDUP_OVER_CCSDSPY = 1.5
T_NS = 1_234_567_890_123

_medians: dict[str, float] = {}


def _values():
    rng = np.random.default_rng(0)
    return (*rng.normal(size=12).tolist(), 1, 2, 12345, 6, *rng.normal(scale=1e-3, size=3).tolist(), 1)


def _median(benchmark) -> float:
    return benchmark.stats.stats.median


# --- per-packet codecs -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["fast", "construct"])
def test_bench_encode(benchmark, path):
    benchmark.group = "telemetry: encode one packet"
    values = _values()
    if path == "fast":
        pack = tm_codec(PACKET).pack
        benchmark(pack, 7, T_NS, values)
    else:
        benchmark(construct_pack_tm, PACKET, 7, T_NS, values)
    _medians[f"encode_{path}"] = _median(benchmark)
    if path == "fast":
        assert _medians["encode_fast"] <= CODEC_TARGET_S
    elif "encode_fast" in _medians:
        assert _medians["encode_construct"] / _medians["encode_fast"] >= SPEEDUP_OVER_CONSTRUCT


@pytest.mark.parametrize("path", ["fast", "construct"])
def test_bench_decode(benchmark, path):
    benchmark.group = "telemetry: decode one packet"
    packet = tm_codec(PACKET).pack(7, T_NS, _values())
    if path == "fast":
        benchmark(tm_codec(PACKET).unpack, packet)
    else:
        benchmark(construct_unpack_tm, PACKET, packet)
    _medians[f"decode_{path}"] = _median(benchmark)
    if path == "fast":
        assert _medians["decode_fast"] <= CODEC_TARGET_S
    elif "decode_fast" in _medians:
        assert _medians["decode_construct"] / _medians["decode_fast"] >= SPEEDUP_OVER_CONSTRUCT


def test_bench_pack_record(benchmark):
    benchmark.group = "telemetry: encode one packet"
    record = np.zeros((), record_dtype(PACKET))
    tm_codec(PACKET).unpack_into(tm_codec(PACKET).pack(7, T_NS, _values()), record)
    benchmark(tm_codec(PACKET).pack_record, 7, T_NS, record)
    assert _median(benchmark) <= CODEC_TARGET_S


def test_bench_unpack_into(benchmark):
    benchmark.group = "telemetry: decode one packet"
    record = np.zeros((), record_dtype(PACKET))
    packet = tm_codec(PACKET).pack(7, T_NS, _values())
    benchmark(tm_codec(PACKET).unpack_into, packet, record)
    assert _median(benchmark) <= CODEC_TARGET_S


def test_bench_command_pack(benchmark):
    benchmark.group = "telemetry: commands"
    benchmark(tc_codec("SET_HEATER_SETPOINT").pack, 3, zone=1, setpoint_C=22.5)
    assert _median(benchmark) > 0


def test_bench_parse_command(benchmark):
    benchmark.group = "telemetry: commands"
    packet = tc_codec("SET_HEATER_SETPOINT").pack(3, zone=1, setpoint_C=22.5)
    parsed = benchmark(parse_command, packet)
    assert parsed.args == {"zone": 1, "setpoint_C": 22.5}


# --- streams and archives ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nav_packets():
    codec = tm_codec(PACKET)
    rng = np.random.default_rng(1)
    values = rng.normal(size=(BULK_PACKETS, 12))
    return [codec.pack(i % 16384, i * 100_000_000, (*values[i].tolist(), 1, 2, i, 0, 0.0, 0.0, 0.0, 0))
            for i in range(BULK_PACKETS)]


@pytest.fixture(scope="module")
def nav_archive(tmp_path_factory, nav_packets):
    path = tmp_path_factory.mktemp("bench") / "telemetry.ccsds"
    with ArchiveWriter(path) as w:
        for p in nav_packets:
            w.write(p)
    return path


def test_bench_deframer_stream_1000_frames(benchmark, nav_packets):
    benchmark.group = "telemetry: streams"
    stream = b"".join(frame(p) for p in nav_packets[:1000])
    result = benchmark(lambda: Deframer().feed(stream))
    assert len(result.packets) == 1000


def test_bench_archive_write_one_packet(benchmark, tmp_path, nav_packets):
    benchmark.group = "telemetry: streams"
    with ArchiveWriter(tmp_path / "w.ccsds") as w:
        benchmark(w.write, nav_packets[0])
    assert w.packets_written >= 1


def test_bench_bulk_decode_100k_packets(benchmark, nav_archive):
    benchmark.group = "telemetry: bulk decode 100k packets"
    decode_apid(nav_archive, PACKET)  # JIT compile / load the cached kernels outside the timing
    cols = benchmark.pedantic(decode_apid, args=(nav_archive, PACKET), rounds=20, warmup_rounds=2)
    _medians["bulk_ours"] = _median(benchmark)
    benchmark.extra_info["packets_per_s"] = BULK_PACKETS / _medians["bulk_ours"]
    assert len(cols["t_ns"]) == BULK_PACKETS


def _ccsdspy_fields(name):
    ccsdspy = pytest.importorskip("ccsdspy", reason="bulk comparison needs the bench extra (ccsdspy)")
    kinds = {"u": "uint", "i": "int", "f": "float"}
    fields = [ccsdspy.PacketField("cuc_seconds", "uint", 32), ccsdspy.PacketField("cuc_subseconds", "uint", 16)]
    for f in TM_BY_NAME[name].fields:
        bits = int(f.type[1:])
        if f.count > 1:
            fields.append(ccsdspy.PacketArray(f.name, kinds[f.type[0]], bits, array_shape=f.count))
        else:
            fields.append(ccsdspy.PacketField(f.name, kinds[f.type[0]], bits))
    return ccsdspy.FixedLength(fields)


def test_bench_bulk_decode_100k_packets_ccsdspy(benchmark, tmp_path, nav_packets):
    benchmark.group = "telemetry: bulk decode 100k packets"
    reader = _ccsdspy_fields(PACKET)
    raw = tmp_path / "packets.bin"  # ccsdspy reads unframed packets: no sync marker, no CRC to verify
    raw.write_bytes(b"".join(nav_packets))
    cols = benchmark.pedantic(reader.load, args=(str(raw),), rounds=20, warmup_rounds=2)
    ccsdspy_median = _median(benchmark)
    benchmark.extra_info["packets_per_s"] = BULK_PACKETS / ccsdspy_median
    assert len(cols["accepted"]) == BULK_PACKETS
    if "bulk_ours" in _medians:
        assert ccsdspy_median / _medians["bulk_ours"] >= BULK_SPEEDUP_OVER_CCSDSPY
