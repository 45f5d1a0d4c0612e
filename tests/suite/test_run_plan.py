"""`cmi-hil run --plan`: what would run and be skipped on a rig, touching nothing and storing nothing;
`cmi-hil run` with several --rig options hands each rig its own command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.run import _without_rig_options
from harness.rig.capabilities import declared_capabilities
from harness.rig.config import load_rig

REPO = Path(__file__).resolve().parents[2]


def _rig_without_dmm(tmp_path: Path) -> Path:
    text = (REPO / "rigs" / "sim.yaml").read_text(encoding="utf-8")
    without, n = re.subn(r"\n  dmm:\n(?:    .*\n)+", "\n", text)
    assert n == 1
    rig = tmp_path / "sim-no-dmm.yaml"
    rig.write_text(without.replace("\nname: sim\n", "\nname: sim-no-dmm\n"), encoding="utf-8")
    return rig


def test_declared_capabilities_follow_the_rig_file(tmp_path: Path) -> None:
    full = declared_capabilities(load_rig(REPO / "rigs" / "sim.yaml"))
    assert {"supply", "dmm", "polarity", "ac_source", "mains", "led", "button"} <= full
    assert "dmm" not in declared_capabilities(load_rig(_rig_without_dmm(tmp_path)))


def test_plan_lists_skips_with_the_reason_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    rc = main(
        [
            "run",
            "--rig",
            str(_rig_without_dmm(tmp_path)),
            "--plan",
            "--reports-dir",
            str(reports),
            "-k",
            "power",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    skipped = [line for line in out.splitlines() if line.strip().startswith("SKIP")]
    assert skipped and all("needs dmm: not on this rig" in line for line in skipped)
    assert any("test_quiescent_current_is_one_unit_load" in line for line in skipped)
    assert any(
        line.strip().startswith("RUN") and "test_answers_at_every_supply_voltage" in line
        for line in out.splitlines()
    )
    assert "not verified on this rig: PS-UNIT-LOAD" in out
    assert not reports.exists(), "--plan must store nothing"


def test_each_rig_gets_the_command_line_without_the_rig_options() -> None:
    argv = ["--rig", "a.yaml", "--time-scale", "0.1", "--rig=b.yaml", "-k", "x", "--", "--rig", "kept"]
    assert _without_rig_options(argv) == ["--time-scale", "0.1", "-k", "x", "--", "--rig", "kept"]
