"""Traceability from a full ``cmi-hil mutate`` folder: clause -> requirement -> tests -> faults that break it.

    python tests/benchmarks/trace_table.py MUTATE_DIR [--markdown]

``MUTATE_DIR`` is the ``mutate-<stamp>`` folder a full ``cmi-hil mutate`` left (one run folder per fault, plus
``clean-N``). The tests of a requirement are those a clean run recorded for it; the faults of a requirement
are those whose run failed at least one test citing it. Prints one row per requirement, then the count per
area: requirements, requirements with a test, requirements broken by at least one seeded fault, faults.
A requirement verified by test with no fault breaking it is listed at the end: that is where the catalogue
is thin (the suite may still decide it; a fault would prove it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from harness.requirements import load_catalogue  # noqa: E402


def _tests(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "tests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mutate_dir", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    runs = sorted(p for p in args.mutate_dir.iterdir() if p.is_dir())
    clean = [p for p in runs if p.name.startswith("clean-")]
    faults = [p for p in runs if not p.name.startswith("clean-")]
    tests_of: dict[str, set[str]] = defaultdict(set)
    for run in clean:
        for t in _tests(run):
            for req in t.get("requirements") or []:  # type: ignore[attr-defined]
                tests_of[str(req)].add(str(t["nodeid"]).split("::")[-1].split("[")[0])
    faults_of: dict[str, set[str]] = defaultdict(set)
    for run in faults:
        for t in _tests(run):
            if t["outcome"] in ("failed", "error"):
                for req in t.get("requirements") or []:  # type: ignore[attr-defined]
                    faults_of[str(req)].add(run.name)
    catalogue = load_catalogue()
    sep = " | " if args.markdown else "  "
    if args.markdown:
        print("| requirement | area | source | tests | faults breaking it |")
        print("|---|---|---|---|---|")
    per_area: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    thin = []
    for req in catalogue.requirements:
        tests = sorted(tests_of.get(req.id, ()))
        broken_by = sorted(faults_of.get(req.id, ()))
        counts = per_area[req.area]
        counts[0] += 1
        counts[1] += bool(tests)
        counts[2] += bool(broken_by)
        if tests and not broken_by:
            thin.append(req.id)
        cells = [req.id, req.area, req.source, f"{len(tests)}", ", ".join(broken_by) or "-"]
        print(("| " if args.markdown else "") + sep.join(cells) + (" |" if args.markdown else ""))
    print()
    print(f"fault runs: {len(faults)}, clean runs: {len(clean)}")
    print("area: requirements / with a test / broken by a seeded fault")
    for area, (n, tested, broken) in per_area.items():
        print(f"  {area}: {n} / {tested} / {broken}")
    print("tested but broken by no seeded fault: " + (", ".join(thin) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
