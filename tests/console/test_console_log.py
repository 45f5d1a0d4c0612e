"""`cmi-hil run` keeps what the console showed as ``console.log`` in the run folder: the per-test lines, the
one-line failure, the requirement table and the verdict, in plain text, listed and sealed by the manifest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from harness.console.capture import ConsoleLog, capture_console, mirror, plain_text
from harness.report.manifest import verify_manifest

REPO = Path(__file__).resolve().parents[2]
#: one quick link-layer test; the seeded checksum fault (CI mutation subset) makes it fail
SUBSET = "test_snd_nke_is_acknowledged_with_e5"
ANSI = "\x1b["


def test_plain_text_drops_ansi_codes_and_carriage_return_rewrites() -> None:
    assert plain_text("\x1b[1;31mFAIL\x1b[0m  PS-UNIT-LOAD") == "FAIL  PS-UNIT-LOAD"
    assert plain_text("[1/9] running\r[2/9] running\r[2/9] done") == "[2/9] done"
    assert plain_text("line\r\nnext") == "line\nnext"  # a CRLF is no rewrite
    assert plain_text("no codes") == "no codes"


def test_capture_keeps_stdout_stderr_and_mirrored_lines_in_order(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    with capture_console(path):
        print("\x1b[32mfirst\x1b[0m")
        mirror("[1/2] 0:01 PASS  LL-SND-NKE test_x (0.1 s)")
        print("warning: on stderr", file=sys.stderr)
        sys.stdout.write("unfinished")
    mirror("after the capture: not kept")
    assert path.read_text() == (
        "first\n[1/2] 0:01 PASS  LL-SND-NKE test_x (0.1 s)\nwarning: on stderr\nunfinished\n"
    )
    log = ConsoleLog(tmp_path / "closed.log")
    log.close()
    log.write("ignored\n")  # a closed log takes nothing and raises nothing
    assert (tmp_path / "closed.log").read_text() == ""


def test_cmi_hil_run_keeps_the_console_in_the_sealed_run_folder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--rig",
        "rigs/sim.yaml",
        "--time-scale",
        "0.1",
        "--fault",
        "bad_checksum",
        "-k",
        SUBSET,
        "--progress",
        "plain",
        "--reports-dir",
        str(reports),
        "--db",
        f"sqlite:///{tmp_path / 'results.sqlite'}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the seeded fault fails a test
    (run_dir,) = reports.glob("*-sim")
    log = (run_dir / "console.log").read_text(encoding="utf-8")
    print(log)
    assert ANSI not in log and "\r" not in log
    lines = log.splitlines()
    assert lines[0].startswith("cmi-hil run: rig sim")
    fail = next(i for i, line in enumerate(lines) if re.match(r"\[1/1\] +\d+:\d\d (FAIL|ERROR) ", line))
    assert "LL-SND-NKE" in lines[fail]  # the progress line names requirement and test
    assert lines[fail + 1].startswith("        ") and "details failures.log" in lines[fail + 1]  # one line
    assert "Traceback" not in log
    assert any(line.startswith("requirement ") and "verdict" in line for line in lines)  # the table
    assert any(line.startswith("run verdict: FAIL") for line in lines)
    assert lines[-1] == f"cmi-hil run: console output up to here kept in {run_dir / 'console.log'}"
    # everything the log shows was on the console too
    for line in (lines[fail], lines[-1]):
        assert line in proc.stdout
    manifest = json.loads((run_dir / "manifest.json").read_text())
    sealed = {f["path"]: f for f in manifest["files"]}
    assert sealed["console.log"]["bytes"] == (run_dir / "console.log").stat().st_size  # complete when sealed
    check = verify_manifest(run_dir)  # what `cmi-hil verify` checks: console.log unchanged since sealed
    assert check.ok and "console.log" not in check.changed, check
