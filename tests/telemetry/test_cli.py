"""``qz tlm``: decode summary and CSV, dictionary and XTCE export, clear errors with exit code 2."""

from __future__ import annotations

import argparse

import pytest

from telemetry import cli
from telemetry.archive import ArchiveWriter
from telemetry.codec import tm_codec
from telemetry.docs import dictionary_markdown, xtce_xml


def _run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="qz")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "telemetry.ccsds"
    with ArchiveWriter(path) as w:
        for i in range(5):
            w.write(tm_codec("DEV_GYRO").pack(i, i * 10_000_000, (0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 1)))
        w.write(tm_codec("BENCH_TICK").pack(0, 0, (7,)))
    with open(path, "ab") as fh:
        fh.write(b"\x1a\xcf\xfc")  # a write cut short by a kill
    return path


def test_decode_summary_lists_packets_per_apid(archive, capsys):
    assert _run("tlm", "decode", str(archive)) == 0
    out = capsys.readouterr().out
    assert "0x200 DEV_GYRO" in out and "5" in out and "0x212 BENCH_TICK" in out


def test_decode_summary_reports_damage_with_offsets(archive, capsys):
    _run("tlm", "decode", str(archive))
    size = archive.stat().st_size
    assert f"damage: bytes {size - 3}..{size} (3 B): truncated" in capsys.readouterr().out


def test_decode_one_apid_to_csv(archive, tmp_path):
    out = tmp_path / "gyro.csv"
    assert _run("tlm", "decode", str(archive), "--apid", "0x200", "--csv", str(out)) == 0
    assert len(out.read_text().splitlines()) == 1 + 5


def test_decode_accepts_packet_name_for_apid(archive, capsys):
    assert _run("tlm", "decode", str(archive), "--apid", "BENCH_TICK") == 0
    assert "BENCH_TICK (APID 0x212): 1 packets" in capsys.readouterr().out


def test_missing_file_is_exit_2_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.ccsds"
    assert _run("tlm", "decode", str(missing)) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err and "Traceback" not in err


def test_unknown_apid_is_exit_2_naming_it(archive, capsys):
    assert _run("tlm", "decode", str(archive), "--apid", "0x7ff") == 2
    assert "0x7ff" in capsys.readouterr().err


def test_apid_that_is_not_a_number_nor_a_name_is_exit_2(archive, capsys):
    assert _run("tlm", "decode", str(archive), "--apid", "GYRO") == 2
    assert "'GYRO'" in capsys.readouterr().err


def test_csv_without_apid_is_exit_2(archive, tmp_path, capsys):
    assert _run("tlm", "decode", str(archive), "--csv", str(tmp_path / "x.csv")) == 2
    assert "--csv needs --apid" in capsys.readouterr().err


def test_directory_instead_of_archive_is_exit_2(tmp_path, capsys):
    assert _run("tlm", "decode", str(tmp_path)) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_dict_writes_the_markdown_dictionary(tmp_path):
    out = tmp_path / "DICTIONARY.md"
    assert _run("tlm", "dict", "--out", str(out)) == 0
    assert out.read_text() == dictionary_markdown()


def test_xtce_writes_the_mission_database(tmp_path):
    out = tmp_path / "q.xtce.xml"
    assert _run("tlm", "xtce", "--out", str(out)) == 0
    assert out.read_text() == xtce_xml()


def test_dict_without_out_prints_to_stdout(capsys):
    _run("tlm", "dict")
    assert capsys.readouterr().out == dictionary_markdown()


def test_unwritable_output_is_exit_2(tmp_path, capsys):
    assert _run("tlm", "xtce", "--out", str(tmp_path / "no" / "dir" / "q.xml")) == 2
    assert "qz tlm xtce: error" in capsys.readouterr().err


@pytest.fixture
def event_archive(tmp_path):
    path = tmp_path / "events.ccsds"
    with ArchiveWriter(path) as w:
        w.write(tm_codec("EVENT").pack(0, 2_500_000_000, (600, 4, 3, 1.0, 12.5, b"abort trigger at 12.5 m")))
        w.write(tm_codec("EVENT").pack(1, 3_000_000_000, (4242, 1, 255, 0.0, 0.0, b"from a newer flight")))
    return path


def test_decode_prints_events_by_name_and_severity(event_archive, capsys):
    assert _run("tlm", "decode", str(event_archive), "--apid", "EVENT") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["2.500", "TRIGGER", "CRITICAL"]
    assert lines[1].endswith("trigger=CLOSING_RATE range=12.5 m")


def test_decode_names_an_event_id_missing_from_the_table_by_its_number(event_archive, capsys):
    _run("tlm", "decode", str(event_archive), "--apid", "EVENT")
    assert capsys.readouterr().out.splitlines()[2].split()[1:5] == ["event", "4242", "INFO", "executive"]


def test_decode_events_to_csv_adds_the_event_and_severity_names(event_archive, tmp_path):
    out = tmp_path / "events.csv"
    assert _run("tlm", "decode", str(event_archive), "--apid", "EVENT", "--csv", str(out)) == 0
    header, first = out.read_text().splitlines()[:2]
    row = dict(zip(header.split(","), first.split(","), strict=False))
    assert (row["event_id"], row["event_name"], row["severity_name"]) == ("600", "TRIGGER", "CRITICAL")
