"""Several rigs in one command: a process per rig, a run folder per rig, one combined summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.parallel import rig_labels, run_rigs

REPO = Path(__file__).resolve().parents[2]


def _sim_rig(tmp_path: Path, name: str) -> Path:
    text = (REPO / "rigs" / "sim.yaml").read_text(encoding="utf-8")
    assert "\nname: sim\n" in text
    rig = tmp_path / f"{name}.yaml"
    rig.write_text(text.replace("\nname: sim\n", f"\nname: {name}\n"), encoding="utf-8")
    return rig


def test_labels_are_distinct() -> None:
    assert rig_labels([Path("a/sim.yaml"), Path("b/sim.yaml"), Path("lab.yaml")]) == ["sim", "sim#2", "lab"]


@pytest.mark.slow
def test_two_simulated_rigs_run_side_by_side(tmp_path: Path) -> None:
    rigs = [_sim_rig(tmp_path, "sim-left"), _sim_rig(tmp_path, "sim-right")]
    reports = tmp_path / "reports"
    out = io.StringIO()
    args = [
        "--time-scale",
        "0.1",
        "-k",
        "snd_nke",
        "--reports-dir",
        str(reports),
        "--db",
        str(tmp_path / "r.db"),
    ]
    rc = run_rigs(rigs, args, out=out)
    text = out.getvalue()
    assert rc == 0, text
    folders = sorted((p for p in reports.iterdir() if p.is_dir()), key=lambda p: p.name.split("-", 2)[-1])
    assert [f.name.split("-", 2)[-1] for f in folders] == ["sim-left", "sim-right"]  # one folder per rig
    for folder in folders:
        assert json.loads((folder / "run.json").read_text(encoding="utf-8"))["verdict"] == "pass"
        assert (folder / "manifest.json").exists()
    summary = text[text.index("2 rig(s):") :].splitlines()
    assert any(
        line.startswith("sim-left") and " PASS " in line and str(folders[0]) in line for line in summary
    )
    assert any(line.startswith("sim-right") and " PASS " in line for line in summary)
    assert "[sim-left] " in text and "[sim-right] " in text


def test_a_rig_that_cannot_start_fails_the_combined_status(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-rig.yaml"
    out = io.StringIO()
    rc = run_rigs([missing], ["--reports-dir", str(tmp_path / "reports")], out=out)
    text = out.getvalue()
    assert rc == 2, text
    assert "[no-such-rig] cmi-hil run: rig file" in text and "not found" in text
    assert any(line.startswith("no-such-rig") and "no run folder" in line for line in text.splitlines())
