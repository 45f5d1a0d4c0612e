"""The whole conformance suite through each runnable dialect rig, by hand (not collected by pytest).

    python tests/benchmarks/bench_dialects.py [--time-scale 0.1] [--rig rigs/sim-dp821a.yaml ...]

Runs ``cmi-hil run`` on ``rigs/sim.yaml`` and each ``rigs/sim-<model>.yaml`` whose supply can reach the
product sheet's 42 V (the others are for ``rig check``), and prints per rig the drivers, the test outcome
counts, the exit status and the wall time. Every rig must end with 0 failed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.rig import load_rig
from harness.rig.config import supply_range_problem

REPO = Path(__file__).resolve().parents[2]


def runnable_rigs() -> list[Path]:
    rigs = [REPO / "rigs" / "sim.yaml", *sorted((REPO / "rigs").glob("sim-*.yaml"))]
    return [path for path in rigs if supply_range_problem(load_rig(path)) is None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument("--rig", type=Path, action="append", default=None, help="rig file (repeatable)")
    args = parser.parse_args()
    rigs = args.rig or runnable_rigs()
    worst = 0
    with tempfile.TemporaryDirectory() as reports:
        for path in rigs:
            rig = load_rig(path)
            drivers = ", ".join(f"{role}={cfg.driver}" for role, cfg in rig.instruments.items())
            cmd = [sys.executable, "-m", "harness.cli", "run", "--rig", str(path)]
            cmd += ["--time-scale", str(args.time_scale), "--reports-dir", reports]
            t0 = time.monotonic()
            done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            wall = time.monotonic() - t0
            counts = re.findall(r"^tests: (.*)$", done.stdout, flags=re.MULTILINE)
            outcome = counts[-1] if counts else "?"
            print(f"{path.name:<18} rc={done.returncode} {wall:6.1f} s  tests: {outcome}")
            print(f"{'':<18} {drivers}")
            worst = max(worst, done.returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
