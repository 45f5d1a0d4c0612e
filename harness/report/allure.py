"""Allure side of the evidence: environment and defect categories in allure-results, and rendering the
Allure HTML report with the Allure command-line tool when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from harness.evidence import ALLURE_DIR, TESTS_FILE, Measurement, RunInfo, TestResult, read_jsonl
from harness.report.plots import ReportFigure
from harness.verdict import test_verdict

ALLURE_REPORT_DIR = "allure-report"
INSTALL_HINT = (
    "the Allure command-line tool is not installed. Install Allure 3 (Node.js package, works "
    "offline once installed): `npm install -g allure`, then run `cmi-hil report {run_dir} --allure` "
    "again. Allure 2 (`allure-commandline`, needs Java) works too."
)

#: Allure matches categories in order; the first match names the defect. :func:`apply_verdicts` first makes
#: each result's status follow the one verdict rule (harness.verdict): "failed" = charged to the module,
#: "broken" with a "[bench error]" / "[harness error]" prefix = stopped by the bench or the harness, not
#: judged. The regex entries after them classify results the rule has not seen (a run without tests.jsonl).
BENCH_MARK = "[bench error]"
HARNESS_MARK = "[harness error]"
CATEGORIES = [
    {
        "name": "Rig problem",
        "matchedStatuses": ["broken"],
        "messageRegex": r"(?s)\[bench error\].*",
        "description": "An instrument, the serial line, the rig lock or the emulator failed; the module was "
        "not judged (run verdict ERROR).",
    },
    {
        "name": "Harness error",
        "matchedStatuses": ["broken"],
        "messageRegex": r"(?s)\[harness error\].*",
        "description": "The harness itself raised; fix the harness before judging the module.",
    },
    {
        "name": "Product defect",
        "matchedStatuses": ["failed"],
        "description": "The module answered, and the answer broke the product sheet or EN 13757.",
    },
    {
        "name": "Rig problem",
        "matchedStatuses": ["broken"],
        "messageRegex": (
            r"(?s).*(VisaIOError|VI_ERROR|SerialException|ConnectionRefused|ConnectionReset|"
            r"TimeoutError|RigError|InstrumentError|LimitError|interlock|rig file|no such device|"
            r"calibration).*"
        ),
        "description": "An instrument, the serial line or the rig file failed; the module was not judged.",
    },
    {
        "name": "Rig problem",
        "matchedStatuses": ["broken"],
        "traceRegex": r"(?s).*(pyvisa|serial/|harness/instruments/|harness/rig).*",
        "description": "An instrument, the serial line or the rig file failed; the module was not judged.",
    },
    {
        "name": "Harness error",
        "matchedStatuses": ["broken"],
        "description": "The harness itself raised; fix the harness before judging the module.",
    },
]


def _prop_escape(text: str, *, key: bool = False) -> str:
    """Escape for a Java .properties file (what Allure reads)."""
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        for ch in " =:#!":
            out = out.replace(ch, "\\" + ch)
    return out


def _read_properties(path: Path) -> dict[str, str]:
    """key=value lines of a .properties file (comments and blank lines skipped), escapes undone."""
    props: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        props[re.sub(r"\\(.)", r"\1", key.strip())] = re.sub(
            r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value
        )
    return props


def environment_properties(info: RunInfo) -> dict[str, str]:
    env = {
        "rig": info.rig.name,
        "rig.file": info.rig.file,
        "rig.simulated": str(info.rig.simulated).lower(),
        "dut.id": info.dut.id or "not read",
        "dut.manufacturer": info.dut.manufacturer or "not read",
        "dut.version": "not read" if info.dut.version is None else str(info.dut.version),
        "dut.medium": "not read" if info.dut.medium is None else f"0x{info.dut.medium:02X}",
        "dut.firmware": info.dut.firmware or "not read",
        "harness.version": info.harness_version,
        "harness.commit": info.git_commit or "unknown",
        "run.id": info.run_id,
    }
    if info.rig.faults:
        env["rig.faults"] = ",".join(info.rig.faults)
    if info.operator:
        env["operator"] = info.operator
    for inst in info.rig.instruments:
        env[f"instrument.{inst.role}"] = " | ".join(
            x
            for x in (
                inst.idn or inst.name,
                f"cal due {inst.calibration_due}" if inst.calibration_due else "",
            )
            if x
        )
    return env


def write_allure_metadata(run_dir: Path, info: RunInfo) -> Path:
    """Write environment.properties and categories.json into the run's allure-results."""
    results = run_dir / ALLURE_DIR
    results.mkdir(parents=True, exist_ok=True)
    env_file = results / "environment.properties"
    merged = _read_properties(env_file) if env_file.exists() else {}  # keep the suite's keys (time scale)
    merged.update(environment_properties(info))
    lines = [f"{_prop_escape(k, key=True)}={_prop_escape(v)}" for k, v in merged.items()]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")
    apply_verdicts(run_dir, list(read_jsonl(run_dir / TESTS_FILE, TestResult)))
    return results


def apply_verdicts(run_dir: Path, tests: list[TestResult]) -> int:
    """Make each Allure result's status follow the one verdict rule (harness.verdict.test_verdict): a test
    stopped by the bench or the harness is "broken" with its kind in front of the message, a test charged
    to the module "failed". Returns how many results were changed; idempotent."""
    results = run_dir / ALLURE_DIR
    if not results.is_dir() or not tests:
        return 0
    by_key = {_allure_key(t.nodeid): t for t in tests}
    changed = 0
    for path in sorted(results.glob("*-result.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        test = by_key.get((doc.get("fullName", ""), doc.get("name", "")))
        if test is None:
            continue
        verdict = test_verdict(test)
        status = doc.get("status")
        details = doc.setdefault("statusDetails", {})
        message = str(details.get("message") or test.message or "")
        if verdict == "error":
            mark = BENCH_MARK if test.error_kind == "bench" else HARNESS_MARK
            new_status, new_message = "broken", message if message.startswith(mark) else f"{mark} {message}"
        elif verdict == "fail":
            new_status, new_message = "failed", message
        else:
            continue
        if (status, details.get("message")) != (new_status, new_message):
            doc["status"], details["message"] = new_status, new_message
            path.write_text(json.dumps(doc), encoding="utf-8")
            changed += 1
    return changed


def _allure_key(nodeid: str) -> tuple[str, str]:
    """(fullName, name) allure-pytest gives the result of a pytest node id."""
    path, _, func = nodeid.partition("::")
    module = path.removesuffix(".py").replace("/", ".")
    return f"{module}#{func.split('[')[0]}", func


def attach_plots(run_dir: Path, figures: list[ReportFigure], measurements: list[Measurement]) -> int:
    """Attach each report plot to the Allure results of the tests that took its measurements.

    Returns how many results got an attachment. Idempotent: a plot already attached is not added twice.
    """
    results = run_dir / ALLURE_DIR
    if not results.is_dir():
        return 0
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}  # allure key -> [(attachment name, file)]
    for fig in figures:
        if fig.png is None:
            continue
        source = f"cmi-hil-plot-{fig.measurement}-attachment.png"
        (results / source).write_bytes(fig.png)
        for nodeid in sorted({m.test for m in measurements if m.name == fig.measurement}):
            wanted.setdefault(_allure_key(nodeid), []).append((f"plot: {fig.title}", source))
    attached = 0
    for path in sorted(results.glob("*-result.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # not ours to repair; Allure reports it
        plots = wanted.get((doc.get("fullName", ""), doc.get("name", "")))
        if not plots:
            continue
        attachments = doc.setdefault("attachments", [])
        have = {a.get("source") for a in attachments}
        new = [{"name": name, "source": src, "type": "image/png"} for name, src in plots if src not in have]
        if new:
            attachments.extend(new)
            path.write_text(json.dumps(doc), encoding="utf-8")
            attached += 1
    return attached


def allure_cli() -> str | None:
    return shutil.which("allure")


def render_allure(run_dir: Path, *, timeout_s: float = 300.0) -> tuple[int, str]:
    """Render allure-results into run_dir/allure-report with the installed Allure CLI.

    Returns (exit status, message); status 3 with the install hint when no CLI is installed.
    """
    cli = allure_cli()
    if cli is None:
        return 3, INSTALL_HINT.format(run_dir=run_dir)
    results = run_dir / ALLURE_DIR
    out = run_dir / ALLURE_REPORT_DIR
    if out.exists():
        shutil.rmtree(out)
    # Allure 2 and Allure 3 both take `generate <results> -o <dir>`; 2 needs --clean to overwrite
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    cmd = [cli, "generate", str(results), "-o", str(out)]
    if version.startswith("2."):
        cmd.append("--clean")
    else:
        cmd += ["--name", f"CMi1020 conformance - run {run_dir.name}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return 1, f"`{' '.join(cmd)}` did not finish within {timeout_s:.0f} s"
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return 1, f"`{' '.join(cmd)}` failed (exit {proc.returncode}): " + " | ".join(tail)
    return 0, f"Allure report: {out / 'index.html'} (Allure {version or 'unknown version'})"
