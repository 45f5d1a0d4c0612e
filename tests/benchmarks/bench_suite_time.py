"""Benchmark: the suite's wall time against the waits the standard forces (issue 16).

    python tests/benchmarks/bench_suite_time.py [--time-scale 1.0] [-k EXPR] [--baseline RUN_DIR]
    python tests/benchmarks/bench_suite_time.py --run RUN_DIR [--baseline RUN_DIR] [--table 20]

Runs ``cmi-hil run`` on the simulated bench (real time by default: about 10 minutes for the whole suite;
run it alone on the machine, other load stretches every read) or reads an existing run folder, and prints
from its ``timing.json``: wall time, the sum of mandated waits (every wait counted, as the suite has always
counted them), their critical path (waits on independent lanes of one overlap group counted once,
``harness.measure.critical_path_s``), what overlapping saved, and the ratios. With ``--baseline`` (a run
folder of an earlier release, e.g. the main branch, on the same rig and time scale) it also prints the
wall-time difference per test file and the ratio of the new wall time to the baseline's mandated sum (the
goal: <= 1.2x the mandated waits "as today's suite counts them"). With ``--table N`` it prints the N tests
whose wall time exceeds their own mandated waits the most (wall - mandated, from ``timing.json``'s
``per_test`` and ``tests.jsonl``): where the overhead is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

GOAL_RATIO = 1.2


def run_suite(reports: Path, time_scale: float, keyword: str | None) -> Path:
    cmd = [sys.executable, "-m", "harness.cli", "run", "--progress", "off", "--reports-dir", str(reports)]
    if time_scale != 1.0:
        cmd += ["--time-scale", str(time_scale)]
    if keyword:
        cmd += ["-k", keyword]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    runs = sorted(p for p in reports.iterdir() if (p / "timing.json").is_file())
    if not runs:
        sys.exit(
            f"cmi-hil run left no run folder (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr}"
        )
    print(f"cmi-hil run exit {proc.returncode}")
    return runs[-1]


def timing(run: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run / "timing.json").read_text(encoding="utf-8"))
    return data


def wall_by_file(run: Path) -> dict[str, float]:
    per_file: dict[str, float] = defaultdict(float)
    for line in (run / "tests.jsonl").read_text(encoding="utf-8").splitlines():
        result = json.loads(line)
        per_file[result["nodeid"].split("::")[0]] += float(result["duration_s"])
    return dict(per_file)


def wall_by_test(run: Path) -> dict[str, float]:
    return {
        result["nodeid"]: float(result["duration_s"])
        for result in map(json.loads, (run / "tests.jsonl").read_text(encoding="utf-8").splitlines())
    }


def overhead_table(run: Path, t: dict[str, Any], rows: int) -> list[str]:
    """The ``rows`` tests with the most wall time beyond their mandated waits (wall seconds)."""
    scale = float(t.get("time_scale") or 1.0)
    per_test: dict[str, dict[str, float]] = t.get("per_test") or {}
    if not per_test:
        return ["no per-test waits in this run folder (an older release): no overhead table"]
    walls = wall_by_test(run)
    table = []
    for nodeid, wall in walls.items():
        waits = per_test.get(nodeid, {})
        mandated = float(waits.get("mandated_s", 0.0)) * scale
        critical = float(waits.get("critical_path_s", waits.get("mandated_s", 0.0))) * scale
        table.append((wall - mandated, wall, mandated, critical, nodeid))
    table.sort(reverse=True)
    total = sum(row[0] for row in table)
    lines = [f"overhead (wall - mandated) per test, {total:.1f} s in all; the {rows} largest:"]
    lines.append(f"  {'over':>7s} {'wall':>7s} {'mandated':>8s} {'critical':>8s}  test")
    for over, wall, mandated, critical, nodeid in table[:rows]:
        lines.append(f"  {over:7.1f} {wall:7.1f} {mandated:8.1f} {critical:8.1f}  {nodeid}")
    return lines


def describe(label: str, t: dict[str, Any]) -> list[str]:
    scale = float(t.get("time_scale") or 1.0)
    wall = float(t["wall_s"])
    mandated = float(t["mandated_total_s"]) * scale
    critical = float(t.get("critical_path_s", t["mandated_total_s"])) * scale
    lines = [
        f"{label}: wall {wall:.1f} s; mandated waits {mandated:.1f} s (sum); critical path {critical:.1f} s; "
        f"overlap saved {mandated - critical:.1f} s of waits (time scale {scale:g}, seconds are wall)",
    ]
    if mandated:
        lines.append(
            f"{label}: wall / mandated sum {wall / mandated:.3f}; wall / critical path {wall / critical:.3f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, help="read this run folder instead of running the suite")
    parser.add_argument("--baseline", type=Path, help="a run folder of an earlier release to compare with")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("-k", dest="keyword", default=None, help="a subset of the suite (pytest -k)")
    parser.add_argument("--table", type=int, default=0, help="print the N tests with the most overhead")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = opts.run or run_suite(Path(tmp), opts.time_scale, opts.keyword)
        new = timing(run)
        for line in describe("this run", new):
            print(line)
        if opts.table:
            for line in overhead_table(run, new, opts.table):
                print(line)
        if opts.baseline is None:
            return 0
        base = timing(opts.baseline)
        for line in describe("baseline", base):
            print(line)
        new_files, base_files = wall_by_file(run), wall_by_file(opts.baseline)
        print("wall per test file (s): baseline -> this run")
        for name in sorted(new_files):
            b, n = base_files.get(name, 0.0), new_files[name]
            print(f"  {name:40s} {b:7.1f} -> {n:7.1f}  ({n - b:+.1f})")
    if set(new_files) != set(base_files):
        shorter = sum(base_files.get(name, 0.0) - n for name, n in new_files.items())
        print(f"a subset of the baseline's files: {shorter:.1f} s shorter in these files (no suite ratio)")
        return 0
    base_mandated = float(base["mandated_total_s"]) * float(base.get("time_scale") or 1.0)
    shortened = float(base["wall_s"]) - float(new["wall_s"])
    ratio = float(new["wall_s"]) / base_mandated
    percent = 100 * shortened / float(base["wall_s"])
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"the run is {shortened:.1f} s shorter than the baseline ({percent:.1f} %)")
    print(f"wall / baseline mandated sum {ratio:.3f} (goal <= {GOAL_RATIO:g}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
