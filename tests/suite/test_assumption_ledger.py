"""A lab's own device profile (``--dut-profile``) against the shipped one: the assumptions it overrode
(old -> new), confirmed and left in force, in the run's evidence, on the console and in the report."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.assumptions import ASSUMPTIONS_FILE, AssumptionLedger, assumption_ledger
from harness.profile import SHIPPED_PROFILE
from harness.report.render import render_html, report_context
from harness.report.rundata import load_run

REPO = Path(__file__).resolve().parents[2]


def _shipped() -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED_PROFILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _lab_profile() -> dict[str, Any]:
    """A lab that measured its unit: another reply delay (link stays assumed), the UI confirmed as shipped,
    the power register confirmed with its shipped coding, and the reactive import register's VIF changed."""
    lab = copy.deepcopy(_shipped())
    lab["link"]["reply_delay_extra_s"] = 0.012
    lab["ui"]["assumption"] = False
    for reg in lab["registers"]:
        if reg["name"] == "power_total":
            reg["assumption"] = False
        if reg["name"] == "reactive_import_total":
            reg["vife"] = [0x03]
            reg["scale"] = 0.001
    return lab


def test_the_shipped_profile_overrides_nothing_and_keeps_every_assumption() -> None:
    shipped = _shipped()
    ledger = assumption_ledger(shipped, shipped)
    assert ledger.overridden == [] and ledger.confirmed == []
    assert {"identity", "link", "rate_inputs", "ui", "registers.status_word"} <= set(ledger.in_force)
    assert "registers.energy_import_total" not in ledger.in_force  # a public value is no assumption


def test_a_lab_profile_lists_old_and_new_values_and_what_stays_assumed() -> None:
    ledger = assumption_ledger(_shipped(), _lab_profile(), profile="lab.yaml")
    changes = {o.path: (o.old, o.new) for o in ledger.overridden}
    assert changes == {
        "link.reply_delay_extra_s": (0.020, 0.012),
        "registers.reactive_import_total.scale": (0.01, 0.001),
        "registers.reactive_import_total.vife": ([0x02], [0x03]),
    }
    assert ledger.confirmed == ["ui", "registers.power_total"]
    assert "link" in ledger.in_force and "ui" not in ledger.in_force
    assert "registers.power_total" not in ledger.in_force
    assert "registers.reactive_import_total" in ledger.in_force  # changed, but still flagged by the lab
    assert ledger.summary().startswith("--dut-profile lab.yaml: 3 assumed value(s) overridden")


def test_a_register_the_lab_profile_drops_is_reported_with_no_new_value() -> None:
    lab = _shipped()
    lab = {**lab, "registers": [r for r in lab["registers"] if r["name"] != "error_flags"]}
    (drop,) = [o for o in assumption_ledger(_shipped(), lab).overridden if o.path.startswith("registers.")]
    assert drop.path == "registers.error_flags" and drop.new is None and drop.old["obis"] == "F.F"


def test_a_run_with_a_lab_profile_records_and_reports_the_overrides(tmp_path: Path) -> None:
    """One conformance test on the simulated bench with the lab's profile (pytest directly: the evidence
    folder without the PDF step), then the report's HTML rendered from that folder."""
    profile = tmp_path / "lab-unit-0042.yaml"
    profile.write_text(yaml.safe_dump(_lab_profile(), sort_keys=False), encoding="utf-8")
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "testcases",
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "test_identity_header",
    ]
    cmd += ["--time-scale", "0.1", "--dut-profile", str(profile), "--evidence-dir", str(run_dir)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "overridden link.reply_delay_extra_s: 0.02 -> 0.012" in proc.stdout
    ledger = AssumptionLedger.model_validate(json.loads((run_dir / ASSUMPTIONS_FILE).read_text()))
    assert ledger.profile == "lab-unit-0042.yaml"  # the file's name, no folder of the machine
    assert {o.path for o in ledger.overridden} >= {"link.reply_delay_extra_s"}
    html = render_html(report_context(load_run(run_dir)))
    assert "Device-profile assumptions" in html and "link.reply_delay_extra_s" in html and "0.012" in html
    assert "registers.power_total" in html.split("Confirmed by the profile in force")[1].split("</p>")[0]
