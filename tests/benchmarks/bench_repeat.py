"""Benchmark: repeatability of the whole suite on the simulated bench under CPU load (issue 12).

N consecutive ``cmi-hil run --time-scale 0.1`` on rigs/sim.yaml while CPU-bound burner processes (one per
core) keep every core busy; prints each run's exit status, wall time and failed tests, then the count of
runs with 0 failures. A run counts as clean when it exits 0 and its tests.jsonl has no failed or errored
test.

    python tests/benchmarks/bench_repeat.py [--runs 20] [--burners N] [--time-scale 0.1] [-- run args]

Each run leaves its folder under a temporary reports directory (``--keep DIR`` to keep them elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BURNER = "while True:\n    sum(i * i for i in range(10_000))\n"


def start_burners(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(count)]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    for proc in burners:
        proc.terminate()
    for proc in burners:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def failed_tests(run_dir: Path) -> list[str]:
    path = run_dir / "tests.jsonl"
    if not path.exists():
        return ["(no tests.jsonl)"]
    failed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record["outcome"] in ("failed", "error"):
                failed.append(record["nodeid"])
    return failed


def one_run(reports: Path, time_scale: float, extra: list[str]) -> tuple[int, float, list[str]]:
    before = set(reports.glob("*-sim*")) if reports.exists() else set()
    cmd = [sys.executable, "-m", "harness.cli", "run", "--time-scale", str(time_scale)]
    cmd += ["--reports-dir", str(reports), *extra]
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    new = sorted(set(reports.glob("*-sim*")) - before)
    failures = failed_tests(new[-1]) if new else ["(no run folder)"]
    if done.returncode != 0 and not failures:
        failures = [f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"]
    return done.returncode, wall, failures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="consecutive runs (default: %(default)s)")
    parser.add_argument(
        "--burners",
        type=int,
        default=os.cpu_count() or 2,
        help="CPU-bound processes beside the runs (default: one per core, %(default)s)",
    )
    parser.add_argument("--time-scale", type=float, default=0.1, help="emulator time scale (default 0.1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders in this directory")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, help="after --: more `cmi-hil run` arguments")
    args = parser.parse_args()
    extra = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    with tempfile.TemporaryDirectory(prefix="cmi-hil-repeat-") as tmp:
        reports = args.keep or Path(tmp) / "reports"
        burners = start_burners(args.burners)
        clean = 0
        try:
            for n in range(1, args.runs + 1):
                rc, wall, failures = one_run(reports, args.time_scale, extra)
                ok = rc == 0 and not failures
                clean += ok
                detail = "clean" if ok else "; ".join(failures)
                print(f"run {n:2d}/{args.runs}: exit {rc}, {wall:6.1f} s, {detail}", flush=True)
        finally:
            stop_burners(burners)
    print(
        f"{clean} of {args.runs} runs with 0 failures "
        f"(cmi-hil run --time-scale {args.time_scale:g}, {args.burners} CPU burner(s))"
    )
    return 0 if clean == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
