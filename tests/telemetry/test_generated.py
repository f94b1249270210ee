"""Generated documents are current, and the XTCE export decodes this project's packets elsewhere."""

from __future__ import annotations

import math

import pytest
import space_packet_parser as spp
from space_packet_parser.xtce.validation import validate_xtce

from telemetry.archive import ArchiveWriter, read_archive
from telemetry.codec import tc_codec, tm_codec
from telemetry.dictionary import COMMANDS, TELEMETRY
from telemetry.docs import DICTIONARY_MD, XTCE_XML, dictionary_markdown, parameter_names, xtce_xml

REGENERATE = "regenerate with `qz tlm dict --out ...` / `qz tlm xtce --out ...` (make dict)"


def test_committed_dictionary_markdown_is_current():
    assert DICTIONARY_MD.read_text() == dictionary_markdown(), f"{DICTIONARY_MD} is stale: {REGENERATE}"


def test_committed_xtce_is_current():
    assert XTCE_XML.read_text() == xtce_xml(), f"{XTCE_XML} is stale: {REGENERATE}"


@pytest.mark.parametrize("name", [p.name for p in TELEMETRY] + [c.name for c in COMMANDS])
def test_dictionary_markdown_lists_every_packet(name):
    assert f"| {name} |" in dictionary_markdown() or f"[{name}]" in dictionary_markdown()


def test_xtce_is_valid_against_the_xtce_1_2_schema(tmp_path):
    path = tmp_path / "q.xml"
    path.write_text(xtce_xml())
    result = validate_xtce(path, level="all", print_results=False, raise_on_error=False,
                           allow_schema_download=False)
    assert result.valid, result


def _sample_values(codec, k):
    """Deterministic non-trivial values for every field of ``codec`` (k varies them per packet)."""
    out = []
    for f in codec.fields:
        if f.type == "char":
            out.append(f"pkt{k}".encode())
        elif f.enum:
            out.extend([sorted(f.enum)[k % len(f.enum)]] * f.count)
        elif f.type.startswith("f"):
            out.extend([0.5 * (k + j) - 3.0 for j in range(f.count)])  # exact in f32 and f64
        elif f.type.startswith("i"):
            out.extend([-(k + j) for j in range(f.count)])
        else:
            out.extend([(k * 7 + j) % 128 for j in range(f.count)])
    return tuple(out)


def _expected_parameters(codec, values):
    expected, i = {}, 0
    for f in codec.fields:
        names = parameter_names(codec.name, f)
        if f.type == "char":
            expected[names[0]] = values[i].decode()
            i += 1
            continue
        for n in names:
            expected[n] = f.enum[values[i]] if f.enum else values[i]
            i += 1
    return expected


def test_space_packet_parser_decodes_our_archive_with_only_the_exported_xtce(tmp_path):
    xtce = tmp_path / "qingzhou.xtce.xml"
    xtce.write_text(xtce_xml())
    archive = tmp_path / "telemetry.ccsds"
    written = []
    with ArchiveWriter(archive) as w:
        for k, p in enumerate(TELEMETRY * 2):
            codec = tm_codec(p.name)
            values = _sample_values(codec, k)
            w.write(codec.pack(k, k * 1_000_000_000 + 500_000_000, values))
            written.append((codec, k, values))
    definition = spp.load_xtce(xtce)
    for (offset, packet), (codec, k, values) in zip(read_archive(archive).packets, written, strict=True):
        decoded = definition.parse_bytes(packet)
        got = {n: decoded[n] for n in _expected_parameters(codec, values)}
        if any(f.type == "char" for f in codec.fields):
            got = {n: v.rstrip("\0") if isinstance(v, str) else v for n, v in got.items()}
        assert (decoded["PKT_APID"], decoded["SRC_SEQ_CTR"], decoded["CUC_SECONDS"], decoded["CUC_SUBSECONDS"]) == (
            codec.apid, k, k, 32768), f"{codec.name} at byte {offset}"
        assert got == _expected_parameters(codec, values), f"{codec.name} at byte {offset}"


def test_space_packet_parser_decodes_a_command_with_the_exported_xtce(tmp_path):
    xtce = tmp_path / "qingzhou.xtce.xml"
    xtce.write_text(xtce_xml())
    decoded = spp.load_xtce(xtce).parse_bytes(tc_codec("SET_HEATER_SETPOINT").pack(9, zone=3, setpoint_C=-12.5))
    assert (decoded["FUNCTION_CODE"], decoded["SET_HEATER_SETPOINT_zone"],
            decoded["SET_HEATER_SETPOINT_setpoint_C"]) == (8, 3, -12.5)


def test_xtce_float_units_survive_export(tmp_path):
    xtce = tmp_path / "q.xml"
    xtce.write_text(xtce_xml())
    decoded = spp.load_xtce(xtce).parse_bytes(tm_codec("DEV_LIDAR").pack(0, 0, (120.5, 0.1, -0.2, 1)))
    assert math.isclose(decoded["DEV_LIDAR_range_m"], 120.5)
