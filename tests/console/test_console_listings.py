"""`cmi-hil faults` and `cmi-hil requirements`: what they list, and a clear error on a wrong filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


def test_faults_lists_every_seeded_fault_with_area_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    names = {r["name"] for r in rows}
    assert {"reply_late", "led_dead", "rate_detect_1s"} <= names
    assert all(r["area"] and r["source"] and r["description"] for r in rows)
    assert main(["faults", "--area", "timing"]) == 0
    out = capsys.readouterr().out
    assert "reply_late" in out and "led_dead" not in out


def test_faults_rejects_an_unknown_area(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "--area", "no-such-area"]) == 2
    err = capsys.readouterr().err
    assert "no fault in area 'no-such-area'" in err and "timing" in err


def test_requirements_lists_source_method_and_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["requirements", "--json"]) == 0
    rows = {r["id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["PS-UNIT-LOAD"]["needs"] == ["supply", "dmm"]
    assert rows["ENV-OPERATING"]["method"] == "external"
    assert main(["requirements", "--area", "power"]) == 0
    out = capsys.readouterr().out
    assert "PS-SUPPLY-RANGE" in out and "LL-REPLY-WINDOW" not in out and "product sheet" in out


def test_requirements_reports_a_broken_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "requirements.yaml"
    bad.write_text("version: 1\nrequirements: [{id: lower-case}]\n", encoding="utf-8")
    assert main(["requirements", "--requirements", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "invalid requirement catalogue" in err and "id 'lower-case' must look like AREA-TOPIC" in err
