"""`cmi-hil run`: run the conformance suite on a rig and leave a run folder under ``reports/``.

    cmi-hil run [--rig rigs/sim.yaml] [--fault NAME]... [--nightly] [--db URL] [--time-scale X]
                [-k EXPR] [-m MARKEXPR] [-x] [-v] [-- more pytest args]

Runs pytest on ``testcases/`` in this process (``pytest.main``, from the repository root) with progress,
writes the evidence (run.json, measurements, tests, transcripts) and allure-results into
``reports/<YYYYmmdd-HHMMSS>-<rig>/``, prints a verdict per requirement and the suite's wall time against
the waits the standard forces, then hands the folder to ``harness.report.finalize_run`` (report, manifest,
results database).

The command owns the run's lifecycle (:mod:`harness.interrupts`). SIGINT, SIGTERM or SIGHUP, sent to this
process alone or to its whole process group: the bench is made safe at once (supply outputs off, AC source
off, relays open) and halted, the remaining tests are not started, fixtures are torn down, and the run
folder is finalized as interrupted (run.json ``verdict: "incomplete"`` unless a test had already failed,
``interrupted: true``, the signal's name, the finish time; report, database row and manifest written); the
rig lock is released. A further signal while the run is being finished makes the bench safe again, gives up
the evidence still to be written and names it. SIGKILL cannot be caught: the next run on the rig recovers
the lock and puts the bench in its safe state before anything else.

Exit status: 0 when every test passed; 1 on a failure (or a nightly regression); 2 when the setup was
wrong or the evidence could not be completed; 130 when a SIGINT ended the run and ``128 + signum`` for
another signal (143 SIGTERM, 129 SIGHUP), whatever the tests did before it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from harness import interrupts
from harness import verdict as verdict_rule
from harness.console.capture import CONSOLE_LOG, capture_console
from harness.console.history import latest_run_of_rig
from harness.evidence import (
    ALLURE_DIR,
    MEASUREMENTS_FILE,
    REQUIREMENTS_FILE,
    RUN_FILE,
    TESTS_FILE,
    Measurement,
    Requirement,
    TestResult,
    read_jsonl,
    read_run_info,
    write_run_info,
)
from harness.requirements import CatalogueError, RequirementVerdict, load_catalogue, requirement_verdicts

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTCASES = REPO_ROOT / "testcases"
DEFAULT_RIG = Path("rigs/sim.yaml")


class RunSetupError(Exception):
    """A problem found before the suite starts (rig, faults, paths); the message says what to do."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the conformance suite and leave a run folder under reports/",
        description="Run the CMi1020 conformance suite on a rig (default: the simulated bench).",
    )
    add_suite_options(p, multi_rig=True)
    p.add_argument(
        "--nightly", action="store_true", help="nightly run: compare with earlier runs, exit 1 on regression"
    )
    p.add_argument(
        "--requirement",
        action="append",
        default=[],
        metavar="ID",
        help="only the tests citing this requirement id (repeatable; `cmi-hil requirements` lists the ids)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="show what would run and what this rig would skip, and why; touches nothing, stores nothing",
    )
    p.add_argument("--operator", default=None, metavar="NAME", help="who runs the test (report page 1)")
    p.add_argument(
        "--ambient",
        default=None,
        metavar="TEXT",
        help='ambient conditions, e.g. "23 °C, 45 %%RH" (report page 1)',
    )
    p.add_argument(
        "--dut-serial", default=None, metavar="SERIAL", help="the serial number on the DUT's label"
    )
    p.add_argument(
        "--junit", type=Path, default=None, metavar="FILE", help="also write JUnit XML (CI servers)"
    )
    p.add_argument(
        "--progress",
        choices=("auto", "live", "plain", "off"),
        default="auto",
        help="console progress: a live line on a terminal, plain lines otherwise (default: %(default)s)",
    )
    p.add_argument("--db", metavar="URL", default=None, help="results database (SQLAlchemy URL or file path)")
    p.add_argument("--reports-dir", type=Path, default=None, help="where run folders go (default: reports/)")
    p.add_argument(
        "--strict-calibration",
        action="store_true",
        help="certification run: refuse to start if an instrument's calibration is overdue or not recorded",
    )
    p.set_defaults(func=run_command)


def add_suite_options(p: argparse.ArgumentParser, *, multi_rig: bool = False) -> None:
    """Options shared by `run` and `mutate`: rig, faults, time scale, test selection, extra pytest args.

    ``multi_rig``: ``--rig`` may be repeated (``cmi-hil run`` then runs every rig at once,
    :mod:`harness.parallel`).
    """
    if multi_rig:
        p.add_argument(
            "--rig",
            type=Path,
            action="append",
            default=None,
            help=f"rig file (default: {DEFAULT_RIG}); repeat it to run several rigs side by side",
        )
    else:
        p.add_argument("--rig", type=Path, default=DEFAULT_RIG, help="rig file (default: %(default)s)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="seed an emulator fault (simulated rigs; repeatable)",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="X",
        help="simulated rigs: override the rig's emulator time scale (0.1 = timers 10x faster)",
    )
    p.add_argument("--dut-profile", type=Path, default=None, help="device profile of the DUT")
    p.add_argument(
        "-k", dest="keyword", default=None, metavar="EXPR", help="only tests matching EXPR (pytest -k)"
    )
    p.add_argument(
        "-m", dest="markexpr", default=None, metavar="MARKEXPR", help="only tests with these markers"
    )
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    p.add_argument("-v", "--verbose", action="count", default=0, help="one line per test")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: further pytest arguments")


def resolve_rig(path: Path) -> Any:
    """Load and validate the rig file (relative paths are tried from the current folder, then the repo)."""
    from harness.rig import load_rig

    candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO_ROOT / path]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise RunSetupError(
            f"rig file {path} not found (looked in {', '.join(str(c.parent) for c in candidates)}); "
            "pass --rig with the path of a rig file, e.g. rigs/sim.yaml"
        )
    try:
        return load_rig(found)
    except Exception as exc:  # the rig loader's message names file, field and allowed values
        raise RunSetupError(str(exc)) from None


def check_faults(rig: Any, faults: list[str]) -> None:
    if not faults:
        return
    if not rig.simulated:
        raise RunSetupError(f"--fault seeds faults in the emulator; rig {rig.name!r} is a real bench")
    from harness.emulator.faults import FAULTS

    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise RunSetupError(f"unknown fault(s) {', '.join(unknown)}; valid: {', '.join(sorted(FAULTS))}")


def check_calibration(rig: Any) -> None:
    """``--strict-calibration``: overdue or unrecorded calibration refuses the run before anything starts."""
    from harness.rig import calibration_problems

    problems = calibration_problems(rig)
    if problems:
        raise RunSetupError(
            "--strict-calibration: run refused, nothing was started: "
            + "; ".join(problems)
            + " (update calibration_due and certificate in the rig file after recalibration)"
        )


def new_run_dir(reports: Path, rig_name: str) -> Path:
    """``reports/<YYYYmmdd-HHMMSS>-<rig>``; a suffix keeps two runs in the same second apart."""
    reports.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = reports / (f"{stamp}-{rig_name}" + (f"-{n}" if n else ""))
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunSetupError(f"cannot create a run folder under {reports}")


def pytest_command(
    args: argparse.Namespace, rig_path: Path, run_dir: Path, *, nightly: bool = False, allure: bool = True
) -> list[str]:
    """The pytest invocation of the suite (run from the repository root)."""
    cmd = [sys.executable, "-m", "pytest", str(TESTCASES), f"--rig={rig_path}", f"--evidence-dir={run_dir}"]
    if allure:
        cmd.append(f"--alluredir={run_dir / ALLURE_DIR}")
    cmd += ["-p", "no:cacheprovider", "-rfE"]  # pyserial's deprecation noise is filtered in pyproject.toml
    for fault in args.fault:
        cmd.append(f"--fault={fault}")
    if args.time_scale is not None:
        cmd.append(f"--time-scale={args.time_scale}")
    if args.dut_profile is not None:
        cmd.append(f"--dut-profile={args.dut_profile.resolve()}")
    if nightly:
        cmd.append("--nightly")
    if args.keyword:
        cmd += ["-k", args.keyword]
    if args.markexpr:
        cmd += ["-m", args.markexpr]
    if args.exitfirst:
        cmd.append("-x")
    if args.verbose:
        cmd.append("-" + "v" * args.verbose)
    for rid in getattr(args, "requirement", None) or []:
        cmd.append(f"--requirement={rid}")
    for option in ("operator", "ambient", "dut_serial"):
        value = getattr(args, option, None)
        if value:
            cmd.append(f"--{option.replace('_', '-')}={value}")
    junit = getattr(args, "junit", None)
    if junit is not None:
        cmd += [f"--junitxml={Path(junit).resolve()}", "-o", "junit_family=xunit1"]
    typed = getattr(args, "typed_command", None)
    if typed:
        cmd.append(f"--typed-command={typed}")
    progress = getattr(args, "progress", None)
    if progress and progress != "off" and not args.verbose:
        # the progress plugin replaces pytest's dots; a failure is one line, its traceback in failures.log
        cmd += [f"--progress={progress}", "-qq", "--tb=no", "-rN", "-o", "console_output_style=classic"]
        history = getattr(args, "progress_history", None)
        if history is not None:
            cmd.append(f"--progress-history={history}")
    extra = list(args.pytest_args or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return cmd + extra


def typed_command(argv: list[str]) -> str:
    """The command line as the user typed it, shown on the report's page 1."""
    return shlex.join(["cmi-hil", *argv])


def run_command(args: argparse.Namespace) -> int:
    rigs: list[Path] = (
        list(args.rig or [DEFAULT_RIG]) if isinstance(args.rig, list | type(None)) else [args.rig]
    )
    if getattr(args, "typed_command", None) is None:
        args.typed_command = typed_command(sys.argv[1:]) if Path(sys.argv[0]).name == "cmi-hil" else None
    if len(rigs) > 1:
        if args.plan:
            print("cmi-hil run: --plan takes one --rig", file=sys.stderr)
            return 2
        from harness.parallel import run_rigs

        argv = sys.argv[1:]
        argv = argv[argv.index("run") + 1 :] if "run" in argv else argv  # what follows the sub-command
        return run_rigs(rigs, _without_rig_options(argv))
    args.rig = rigs[0]
    try:
        rig = resolve_rig(args.rig)
        check_faults(rig, args.fault)
        if getattr(args, "strict_calibration", False):
            check_calibration(rig)
        if args.time_scale is not None and not rig.simulated:
            raise RunSetupError(f"--time-scale is for simulated rigs; rig {rig.name!r} is a real bench")
        if not TESTCASES.is_dir():
            raise RunSetupError(f"no test cases at {TESTCASES}: run from a checkout of the harness")
        reports = (args.reports_dir or REPO_ROOT / "reports").resolve()
        rig_path = rig.source.resolve() if rig.source else args.rig.resolve()
        if args.plan:
            return show_plan(args, rig, rig_path)
        args.progress_history = latest_run_of_rig(reports, rig.name)
        run_dir = new_run_dir(reports, rig.name)
    except RunSetupError as exc:
        print(f"cmi-hil run: {exc}", file=sys.stderr)
        return 2
    with interrupts.handling():
        return run_and_finish(args, rig.name, rig_path, run_dir)


def _without_rig_options(argv: list[str]) -> list[str]:
    """``argv`` minus every ``--rig X`` / ``--rig=X`` (each rig's process gets its own)."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--rig":
            skip = True
            continue
        if arg.startswith("--rig="):
            continue
        out.append(arg)
    return out


def show_plan(args: argparse.Namespace, rig: Any, rig_path: Path) -> int:
    """``--plan``: collect the selection, list RUN/SKIP per test against the rig file's capabilities."""
    from harness.plan import collect_plan, format_plan
    from harness.rig.capabilities import declared_capabilities

    capabilities = declared_capabilities(rig)
    argv = pytest_command(args, rig_path, Path(os.devnull), nightly=args.nightly, allure=False)[3:]
    argv = [a for a in argv if not a.startswith(("--evidence-dir=", "--junitxml=", "--progress"))]
    with in_repo_root():
        rc, tests = collect_plan(argv, capabilities)
    if rc not in (0, 5):
        print(f"cmi-hil run --plan: the suite could not be collected (pytest exit {rc})", file=sys.stderr)
        return 2
    format_plan(rig.name, tests, capabilities, sys.stdout)
    return 0


def run_and_finish(args: argparse.Namespace, rig_name: str, rig_path: Path, run_dir: Path) -> int:
    """The suite, then the evidence; every exit path leaves the bench safe (module docstring).

    What the console shows up to the verdict is kept as ``console.log`` in the run folder (plain text,
    :mod:`harness.console.capture`); it is complete before the report and the manifest, which seals it.
    """
    with contextlib.ExitStack() as console:
        console.enter_context(capture_console(run_dir / CONSOLE_LOG))
        return _run_and_finish(args, rig_name, rig_path, run_dir, console)


def _run_and_finish(
    args: argparse.Namespace, rig_name: str, rig_path: Path, run_dir: Path, console: contextlib.ExitStack
) -> int:
    print(f"cmi-hil run: rig {rig_name} ({rig_path}), run folder {run_dir}", flush=True)
    t0 = time.monotonic()
    try:
        rc = run_pytest(pytest_command(args, rig_path, run_dir, nightly=args.nightly)[3:])
    except KeyboardInterrupt:  # outside pytest's own handling: before the session, or a further signal
        close_benches()
        signalled = interrupts.record()
        if signalled is not None and signalled.count > 1:
            return abandon(run_dir, [], stage="the suite's teardown")
        rc = 2
    except Exception as exc:  # a harness error escaping pytest: the bench first, then what evidence there is
        traceback.print_exc()  # a harness bug: its trace helps the fix
        print(f"cmi-hil run: the suite stopped on a harness error: {exc!r}", file=sys.stderr)
        rc = 3
    wall = time.monotonic() - t0
    written: list[str] = []
    try:
        close_benches()
        record_interruption(run_dir)
        summary_rc = print_summary(run_dir, wall)
        print(f"cmi-hil run: console output up to here kept in {run_dir / CONSOLE_LOG}", flush=True)
        console.close()  # complete before the report and the manifest that seals it
        finalize_rc = finalize(run_dir, db_url=args.db, nightly=args.nightly, written=written)
    except KeyboardInterrupt:
        close_benches()
        return abandon(run_dir, written, stage="finalization")
    if rc == 5:
        print("cmi-hil run: no test was selected", file=sys.stderr)
    print(f"cmi-hil run: evidence in {run_dir}")
    signalled = interrupts.record()
    if signalled is not None:
        print(
            f"cmi-hil run: interrupted by {signalled.signal_name} at {signalled.received}; "
            "the bench was made safe, the run is recorded as interrupted",
            file=sys.stderr,
        )
        return interrupts.exit_status(signalled.signum)
    return max(rc, summary_rc, finalize_rc)


@contextlib.contextmanager
def in_repo_root() -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(REPO_ROOT)
    try:
        yield
    finally:
        os.chdir(previous)


def run_pytest(arguments: list[str]) -> int:
    """pytest in this process, from the repository root, so a signal reaches the bench's own handler."""
    import pytest

    with in_repo_root():
        return int(pytest.main(arguments))


def close_benches() -> None:
    """Any bench the suite left open (an aborted teardown) made safe, closed, its lock released."""
    from harness.rig import close_open_benches

    for problem in close_open_benches():
        print(f"cmi-hil run: SAFETY: {problem}", file=sys.stderr, flush=True)


def record_interruption(run_dir: Path) -> None:
    """run.json says interrupted, by which signal, and when the run ended, even if the suite could not."""
    signalled = interrupts.record()
    if signalled is None or not (run_dir / RUN_FILE).exists():
        return
    try:
        info = read_run_info(run_dir)
    except ValueError as exc:  # the report step names the broken run.json
        print(f"cmi-hil run: {run_dir / RUN_FILE} could not be read: {exc}", file=sys.stderr)
        return
    update: dict[str, Any] = {"interrupted": True, "signal": signalled.signal_name}
    if info.finished is None:
        update["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    if info.verdict != "incomplete":  # harness.verdict: an interrupted run is INCOMPLETE, never FAIL or PASS
        update["verdict"] = "incomplete"
        update["verdict_reason"] = f"interrupted by {signalled.signal_name}: the tests that ran are kept"
    write_run_info(run_dir, info.model_copy(update=update))


def abandon(run_dir: Path, written: list[str], *, stage: str) -> int:
    """A signal during ``stage`` gave up the evidence still to be written: the bench is safe (closed first);
    say what is missing."""
    from harness.report.finalize import not_written

    with contextlib.suppress(KeyboardInterrupt):  # yet another signal: the message below still matters
        record_interruption(run_dir)
    signalled = interrupts.record()
    name = signalled.signal_name if signalled else "a signal"
    missing = not_written(written)
    print(
        f"cmi-hil run: {name} during {stage}: the bench is safe; evidence NOT written: "
        f"{', '.join(missing) or 'none'}. Render it later with `cmi-hil report {run_dir}`",
        file=sys.stderr,
        flush=True,
    )
    return interrupts.exit_status(signalled.signum if signalled else 2)


def load_results(run_dir: Path) -> tuple[list[TestResult], list[Measurement]]:
    return list(read_jsonl(run_dir / TESTS_FILE, TestResult)), list(
        read_jsonl(run_dir / MEASUREMENTS_FILE, Measurement)
    )


def _run_requirements(run_dir: Path) -> list[Requirement] | None:
    """The requirements the run recorded (with the assumptions of its profile), or None if absent."""
    path = run_dir / REQUIREMENTS_FILE
    if not path.exists():
        return None
    try:
        return TypeAdapter(list[Requirement]).validate_json(path.read_bytes())
    except ValidationError:
        return None


def print_summary(run_dir: Path, wall_s: float) -> int:
    """Print the verdict per requirement, the run verdict (harness.verdict, the one rule) and the timing.

    Returns the run verdict's exit status: 0 pass or incomplete, 1 a module failure, 3 a bench or harness
    error (the module was not judged), 2 when the catalogue cannot be read.
    """
    requirements: Any = _run_requirements(run_dir)
    if requirements is None:
        try:
            requirements = load_catalogue()
        except CatalogueError as exc:
            print(f"cmi-hil run: {exc}", file=sys.stderr)
            return 2
    results, measurements = load_results(run_dir)
    try:
        info: Any = read_run_info(run_dir)
    except (OSError, ValueError):
        info = None
    simulated = bool(info.rig.simulated) if info is not None else True
    verdicts = requirement_verdicts(requirements, results, measurements, simulated_bench=simulated)
    print(format_verdict_table(verdicts))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    print(
        "tests: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) if counts else "tests: none ran"
    )
    classes = {rid: v.verdict for rid, v in verdicts.items() if v.verdict != "retired"}
    decision = verdict_rule.run_verdict(
        classes, results, measurements, interrupted=bool(getattr(info, "interrupted", False))
    )
    shown = ", ".join(
        f"{decision.counts[c]} {verdict_rule.CLASS_LABELS[c]}"
        for c in verdict_rule.REQUIREMENT_CLASSES
        if decision.counts.get(c)
    )
    partial = " (PARTIAL)" if decision.verdict == "pass" and decision.partial else ""
    print(f"requirements: {shown or 'none'}")
    print(f"run verdict: {decision.verdict.upper()}{partial}: {decision.reason}")
    for cause in decision.causes:
        print(f"  {cause}")
    timing_path = run_dir / "timing.json"
    if timing_path.exists():
        timing = json.loads(timing_path.read_text(encoding="utf-8"))
        for line in timing_lines(timing, wall_s):
            print(line)
    return decision.exit_status


def timing_lines(timing: dict[str, Any], wall_s: float) -> list[str]:
    """The run summary's time lines from timing.json: wall time against the sum of mandated waits and
    against their critical path (waits on independent lanes counted once, harness.measure), and what
    overlapping saved. Ratios compare wall time with waits at the run's time scale."""
    mandated = float(timing.get("mandated_total_s") or 0.0)
    scale = float(timing.get("time_scale") or 1.0)
    waits = ", ".join(f"{k} {v:.1f} s" for k, v in timing.get("mandated_waits_s", {}).items())
    suite_s = float(timing.get("wall_s", wall_s))
    line = f"timing: suite {suite_s:.1f} s wall; mandated waits {mandated:.1f} s ({waits})"
    if mandated:
        line += f"; ratio wall/mandated {suite_s / mandated:.3f}"
        if scale != 1.0:
            line += f" (time scale {scale:g}: {suite_s / (mandated * scale):.2f} vs scaled waits)"
    lines = [line]
    critical = timing.get("critical_path_s")
    if mandated and critical:
        critical = float(critical)
        lines.append(
            f"timing: critical path of mandated waits {critical:.1f} s (overlapping waits counted once; "
            f"overlap saved {mandated - critical:.1f} s of waits); ratio wall/critical path "
            f"{suite_s / (critical * scale):.3f}"
        )
    beyond = overhead_by_test(timing)[:OVERHEAD_SHOWN]
    if beyond:
        shown = ", ".join(f"{nodeid.split('/')[-1]} +{over:.1f} s" for nodeid, over in beyond)
        lines.append(f"timing: most wall time beyond a test's own mandated waits: {shown}")
    return lines


#: tests the run summary names as the largest overhead (wall time beyond their own mandated waits)
OVERHEAD_SHOWN = 3


def overhead_by_test(timing: dict[str, Any]) -> list[tuple[str, float]]:
    """(test, wall s - its mandated waits at the run's time scale), largest first, from timing.json's
    ``per_test`` (empty for a run folder of an older release)."""
    scale = float(timing.get("time_scale") or 1.0)
    rows = [
        (nodeid, float(w["wall_s"]) - float(w.get("mandated_s", 0.0)) * scale)
        for nodeid, w in (timing.get("per_test") or {}).items()
        if "wall_s" in w
    ]
    return sorted(rows, key=lambda row: row[1], reverse=True)


def format_verdict_table(verdicts: dict[str, RequirementVerdict]) -> str:
    """One line per requirement: id, class (harness.verdict), tests passed/failed/not judged, source."""
    rows = [("requirement", "verdict", "tests (passed/failed/not judged)", "source")]
    for rid, v in verdicts.items():
        tests = f"{v.passed}/{v.failed}/{v.skipped}" if v.verdict not in ("external", "retired") else "-"
        label = verdict_rule.CLASS_LABELS.get(v.verdict, v.verdict)
        rows.append((rid, label.upper(), tests, v.source))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(r[j].ljust(widths[j]) for j in range(3)) + "  " + r[3])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)


def finalize(run_dir: Path, *, db_url: str | None, nightly: bool, written: list[str] | None = None) -> int:
    """Hand the run folder to the report builder (report, manifest, results DB) if it is installed."""
    try:
        from harness.report import finalize_run
    except ImportError:
        print("cmi-hil run: harness.report.finalize_run is not available: no report or manifest written")
        return 0
    try:
        return int(finalize_run(run_dir, db_url=db_url, nightly=nightly, written=written))
    except Exception as exc:  # the evidence folder stays; say what failed
        print(f"cmi-hil run: the report could not be finished: {exc}", file=sys.stderr)
        return 2


__all__ = ["register", "run_command", "pytest_command", "print_summary"]
