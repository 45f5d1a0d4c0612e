"""`cmi-hil mutate`: measure the suite's sharpness against the emulator's seeded faults.

    cmi-hil mutate [--jobs N] [--fault NAME]... [--subset ci] [--clean-runs P] [--rig rigs/sim.yaml]
                   [--time-scale X]

Runs the suite once per fault of ``harness.emulator.faults.FAULTS`` (or the ``--fault`` subset) and P
times on the fault-free emulator, in parallel subprocesses, each with its own run folder under
``reports/mutate-<YYYYmmdd-HHMMSS>/``. A fault is killed when at least one test fails or errors; a
clean run passes when no test does. Prints the matrix fault -> failing tests and requirements and ends
with ``killed K/N faults; clean runs: P/P passed``. Exit status 0 only when every fault is killed and
every clean run passed.

``--subset ci`` is the fast check CI runs: :data:`SUBSETS` names about ten faults across the areas, each
with the test files that decide it (``--subset timing``: the faults decided by wall-clock timing, to run
at two time scales); a fault run stops at its first failing test (one kill is enough)
and the clean runs run the union of those files, so a false failure there is caught too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.commands.run import (
    REPO_ROOT,
    TESTCASES,
    RunSetupError,
    add_suite_options,
    check_faults,
    load_results,
    pytest_command,
    resolve_rig,
)

CLEAN = "(clean)"
#: failing tests named per fault in the matrix (the run folder lists them all)
MATRIX_TESTS = 4
#: a single suite run that takes longer than this is stopped and reported as an error
RUN_TIMEOUT_S = 900.0

#: named fault subsets: fault -> the test files (under testcases/) that must kill it
SUBSETS: dict[str, dict[str, tuple[str, ...]]] = {
    "ci": {
        "bad_checksum": ("test_link_layer.py",),
        "accepts_bad_parity": ("test_link_layer.py",),
        "nke_no_restart": ("test_link_details.py",),
        "rsp_a_echoes_request": ("test_link_details.py",),
        "accepts_reserved_address": ("test_link_details.py",),
        "broadcast_255_not_executed": ("test_link_details.py",),
        "wildcard_broken": ("test_addressing.py",),
        "no_300_baud": ("test_baud.py",),
        "dead_below_22v": ("test_power.py",),
        "threshold_27vac": ("test_rate_inputs.py",),
        "falling_edge_immediate": ("test_boundaries.py",),
        "button_dead": ("test_user_interface.py",),
        "space_current_low": ("test_physical_current.py",),
        "startup_chatter": ("test_physical_timing.py",),
        "dfc_set": ("test_link_details.py",),
        "status_word_split": ("test_data.py",),
        "no_resync_after_garbage": ("test_robustness.py",),
    },
    # the faults a faster simulation could hide: each is decided by wall-clock timing (reply window, gaps
    # inside a telegram, parity switch, startup, detection time, current captures). Run it at
    # --time-scale 1.0 and at the scale CI uses to show both are as sharp (issue 11).
    "timing": {
        "reply_early": ("test_link_layer.py",),
        "reply_late": ("test_link_layer.py",),
        "accepts_bad_parity": ("test_link_layer.py",),
        "reply_pause": ("test_physical_timing.py",),
        "slow_startup": ("test_physical_timing.py",),
        "startup_chatter": ("test_physical_timing.py",),
        "rate_detect_1s": ("test_boundaries.py",),
        "rate_detect_4s": ("test_boundaries.py",),
        "rate_detect_8s": ("test_boundaries.py", "test_rate_inputs.py"),
        "falling_edge_immediate": ("test_boundaries.py",),
        "mark_current_wanders": ("test_physical_current.py",),
        "space_current_when_silent": ("test_physical_current.py",),
        "slow_turnaround": ("test_robustness.py",),
        "rate_debounce_integrates": ("test_rate_inputs.py",),
        "rate_edge_latched": ("test_rate_inputs.py",),
    },
}


@dataclass
class MutantRun:
    """One suite run: a fault (or a clean run), its folder, and what failed."""

    fault: str
    label: str
    run_dir: Path
    returncode: int | None = None
    wall_s: float = 0.0
    failing: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    tests: int = 0
    problem: str | None = None
    #: test files (under testcases/) this run is limited to; empty = the whole suite
    files: tuple[str, ...] = ()
    exitfirst: bool = False

    @property
    def clean(self) -> bool:
        return self.fault == CLEAN

    @property
    def killed(self) -> bool:
        return bool(self.failing)

    @property
    def passed(self) -> bool:
        """A clean run passes when it ran tests and none failed."""
        return self.problem is None and self.tests > 0 and not self.failing


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "mutate",
        help="run the suite once per seeded emulator fault and report which faults it kills",
        description="Sharpness of the suite: one run per emulator fault plus clean runs, in parallel.",
    )
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="parallel runs (default: CPU count)")
    p.add_argument(
        "--clean-runs", type=int, default=2, metavar="P", help="fault-free runs (default: %(default)s)"
    )
    p.add_argument(
        "--reports-dir", type=Path, default=None, help="where the mutate folder goes (default: reports/)"
    )
    p.add_argument(
        "--subset",
        choices=sorted(SUBSETS),
        default=None,
        help="a named fast subset: its faults, each against the test files that decide it (CI: 'ci')",
    )
    add_suite_options(p)
    p.set_defaults(func=mutate_command)


def plan(
    faults: list[str], clean_runs: int, base: Path, files: dict[str, tuple[str, ...]] | None = None
) -> list[MutantRun]:
    """Clean runs first (they are the flakiness check), then one run per fault.

    With ``files`` (a subset), each fault runs only its files and stops at the first failure; the clean
    runs run the union of every fault's files."""
    union = tuple(sorted({f for fs in (files or {}).values() for f in fs}))
    runs = [
        MutantRun(CLEAN, f"clean-{i + 1}", base / f"clean-{i + 1}", files=union) for i in range(clean_runs)
    ]
    runs += [
        MutantRun(f, f, base / f, files=(files or {}).get(f, ()), exitfirst=files is not None) for f in faults
    ]
    return runs


def check_subset(name: str, known: set[str]) -> dict[str, tuple[str, ...]]:
    """The subset's fault -> files map; every fault must be in the catalogue and every file exist."""
    subset = SUBSETS[name]
    unknown = sorted(set(subset) - known)
    if unknown:
        raise RunSetupError(f"subset {name!r} names fault(s) not in the catalogue: {', '.join(unknown)}")
    missing = sorted({f for fs in subset.values() for f in fs if not (TESTCASES / f).is_file()})
    if missing:
        raise RunSetupError(f"subset {name!r} names test file(s) not under {TESTCASES}: {', '.join(missing)}")
    return subset


def limit_to_files(cmd: list[str], files: tuple[str, ...]) -> list[str]:
    """The suite command with the testcases folder replaced by ``files`` (nothing to do without files)."""
    if not files:
        return cmd
    where = cmd.index(str(TESTCASES))
    return [*cmd[:where], *(str(TESTCASES / f) for f in files), *cmd[where + 1 :]]


def execute(run: MutantRun, args: argparse.Namespace, rig_path: Path) -> MutantRun:
    """Run the suite for one fault in a subprocess; collect the failing tests from its run folder."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    sub = argparse.Namespace(**vars(args))
    sub.fault = [] if run.clean else [run.fault]
    sub.verbose = 0
    cmd = pytest_command(sub, rig_path, run.run_dir, allure=False) + ["-q", "--no-header"]  # evidence only
    cmd = limit_to_files(cmd, run.files) + (["-x"] if run.exitfirst and "-x" not in cmd else [])
    t0 = time.monotonic()
    with (run.run_dir / "pytest.log").open("w", encoding="utf-8") as log:
        try:
            run.returncode = subprocess.call(
                cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            run.problem = f"stopped after {RUN_TIMEOUT_S:.0f} s"
    run.wall_s = time.monotonic() - t0
    results, _ = load_results(run.run_dir)
    run.tests = len(results)
    run.failing = [r.nodeid for r in results if r.outcome in ("failed", "error")]
    run.requirements = sorted(
        {rid for r in results if r.outcome in ("failed", "error") for rid in r.requirements}
    )
    if run.problem is None and run.returncode not in (0, 1):
        run.problem = f"pytest exited with status {run.returncode} (see {run.run_dir / 'pytest.log'})"
    return run


def short(nodeid: str) -> str:
    """``testcases/test_power.py::test_x[+]`` -> ``test_power::test_x[+]``."""
    path, _, name = nodeid.partition("::")
    return f"{Path(path).stem}::{name}" if name else nodeid


def format_matrix(runs: list[MutantRun]) -> str:
    lines = ["fault -> failing tests [requirements]"]
    for run in runs:
        if run.clean:
            status = "PASS" if run.passed else "FAIL"
            detail = ", ".join(short(t) for t in run.failing) or f"{run.tests} tests green"
            lines.append(f"  {run.label:34s} {status:8s} {detail}")
            continue
        status = "killed" if run.killed else "SURVIVED"
        shown = [short(t) for t in run.failing[:MATRIX_TESTS]]
        more = len(run.failing) - len(shown)
        detail = ", ".join(shown) + (f" and {more} more" if more > 0 else "") if shown else "no test failed"
        reqs = f" [{', '.join(run.requirements)}]" if run.requirements else ""
        lines.append(f"  {run.fault:34s} {status:8s} {len(run.failing):2d}: {detail}{reqs}")
        if run.problem:
            lines.append(f"  {'':34s} problem: {run.problem}")
    return "\n".join(lines)


def mutate_command(args: argparse.Namespace) -> int:
    try:
        rig = resolve_rig(args.rig)
        if not rig.simulated:
            raise RunSetupError(f"mutate seeds faults in the emulator; rig {rig.name!r} is a real bench")
        from harness.emulator.faults import FAULTS

        subset = check_subset(args.subset, set(FAULTS)) if args.subset else None
        if subset is not None and args.fault:
            raise RunSetupError("give either --subset or --fault, not both")
        faults = list(subset) if subset is not None else list(args.fault) or sorted(FAULTS)
        check_faults(rig, faults)
        if args.clean_runs < 0:
            raise RunSetupError("--clean-runs must be 0 or more")
        if not TESTCASES.is_dir():
            raise RunSetupError(f"no test cases at {TESTCASES}: run from a checkout of the harness")
    except RunSetupError as exc:
        print(f"cmi-hil mutate: {exc}", file=sys.stderr)
        return 2
    jobs = max(1, args.jobs or os.cpu_count() or 1)
    base = (args.reports_dir or REPO_ROOT / "reports") / f"mutate-{datetime.now():%Y%m%d-%H%M%S}"
    base.mkdir(parents=True, exist_ok=True)
    rig_path = rig.source.resolve() if rig.source else args.rig.resolve()
    runs = plan(faults, args.clean_runs, base, subset)
    print(
        f"cmi-hil mutate: {len(faults)} fault(s) + {args.clean_runs} clean run(s) on rig {rig.name}, "
        f"{jobs} in parallel; run folders under {base}",
        flush=True,
    )
    t0 = time.monotonic()
    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(execute, run, args, rig_path) for run in runs]
        for fut in as_completed(futures):
            run = fut.result()
            done += 1
            if run.clean:
                verdict = "passed" if run.passed else f"FAILED ({len(run.failing)} failing)"
            else:
                verdict = f"killed by {len(run.failing)} test(s)" if run.killed else "SURVIVED"
            print(f"[{done}/{len(runs)}] {run.label}: {verdict} in {run.wall_s:.0f} s", flush=True)
    print(format_matrix(runs))
    killed = sum(1 for r in runs if not r.clean and r.killed)
    clean = [r for r in runs if r.clean]
    clean_ok = sum(1 for r in clean if r.passed)
    print(f"mutate wall time {time.monotonic() - t0:.0f} s")
    print(f"killed {killed}/{len(faults)} faults; clean runs: {clean_ok}/{len(clean)} passed")
    return 0 if killed == len(faults) and clean_ok == len(clean) else 1
