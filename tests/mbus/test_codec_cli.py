"""`cmi-hil decode`: table and JSON output, exit status 0/1/2, no tracebacks on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mbus_libmbus_xml import ERROR_FRAMES, FRAMES

from harness.cli import main

ENERGY = "68 15 15 68 08 01 72 78 56 34 12 96 15 01 02 05 00 00 00 04 03 39 30 00 00 B2 16"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["decode", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_shape_of_a_long_frame(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--json", ENERGY)
    assert status == 0
    [item] = json.loads(out)
    assert item["ok"] is True and item["diagnostics"] == []
    frame = item["frame"]
    assert (frame["kind"], frame["c"], frame["a"], frame["ci"]) == ("long", 8, 1, 114)
    assert frame["header"] == {
        "id": "12345678",
        "manufacturer": "ELV",
        "version": 1,
        "medium": 2,
        "access_number": 5,
        "status": 0,
        "signature": 0,
    }
    [record] = frame["records"]
    assert {
        k: record[k]
        for k in (
            "function",
            "storage",
            "tariff",
            "subunit",
            "quantity",
            "unit",
            "value",
            "raw",
            "dif",
            "vif",
        )
    } == {
        "function": "instantaneous",
        "storage": 0,
        "tariff": 0,
        "subunit": 0,
        "quantity": "energy",
        "unit": "Wh",
        "value": 12345.0,
        "raw": "04 03 39 30 00 00",
        "dif": 4,
        "vif": 3,
    }
    assert frame["manufacturer_data"] is None


def test_table_lists_header_and_records(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, ENERGY)
    assert status == 0
    assert "id 12345678  manufacturer ELV" in out
    line = next(x for x in out.splitlines() if "energy" in x)
    assert line.split() == ["0", "instantaneous", "0", "0", "0", "energy", "12345", "Wh"]


def test_error_frame_exits_1_with_its_rule(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--json", str(ERROR_FRAMES / "premature_end_of_data1.hex"))
    assert status == 1
    [item] = json.loads(out)
    assert item["ok"] is False and item["diagnostics"][0]["rule"] == "EN13757-3:premature-end"


def test_undecodable_frame_reports_null_frame(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--json", "10 40 01 42 16")
    [item] = json.loads(out)
    assert status == 1 and item["frame"] is None and item["diagnostics"][0]["rule"] == "EN13757-2:checksum"


def test_strict_turns_deviation_into_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "10 40 01 41 16 00")[0] == 0
    status, out, _ = run(capsys, "--strict", "10 40 01 41 16 00")
    assert status == 1 and "EN13757-2:trailing-bytes" in out


def test_unusable_input_is_a_usage_error_and_others_are_still_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "no-such-file.hex", "E5")
    assert status == 2
    assert "neither an existing file nor a hex string" in err
    assert "single character E5" in out


def test_file_with_broken_hex_is_a_decode_error_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--json", str(ERROR_FRAMES / "unsupported-frames" / "manual_frame1.hex"))
    [item] = json.loads(out)
    assert status == 1 and item["diagnostics"][0]["rule"] == "input:hex"
    assert "odd number" in item["diagnostics"][0]["message"]


def test_whole_corpus_decodes_without_errors(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(str(p) for p in FRAMES.glob("*.hex"))
    status, out, _ = run(capsys, "--json", *paths)
    items = json.loads(out)
    assert status == 0 and len(items) == len(paths) and all(i["ok"] for i in items)


def test_no_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["decode"])
    assert exc.value.code == 2


def test_hex_file_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ack.hex"
    path.write_text("E5\r\n")
    status, out, _ = run(capsys, "--json", str(path))
    assert status == 0 and json.loads(out)[0]["frame"]["kind"] == "ack"
