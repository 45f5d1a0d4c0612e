"""Benchmark: wall time of N simulated rigs run side by side against one rig, in the same session.

    python tests/benchmarks/bench_parallel.py [--rigs 4] [--time-scale 1.0] [-k EXPR]

Each rig is a copy of ``rigs/sim.yaml`` with its own name (its own emulator, SCPI servers and run folder), run
by ``harness.parallel.run_rigs`` exactly as ``cmi-hil run --rig a --rig b ...`` does. Prints the wall time of
one rig, of N rigs, and their ratio (goal: N = 4 within 1.3x of one). At time scale 1.0 a run is dominated by
the waits the standard forces, which overlap across rigs; at small time scales the runs become CPU-bound and
the ratio tends to N / cores.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from harness.parallel import run_rigs

SIM_RIG = Path(__file__).resolve().parents[2] / "rigs" / "sim.yaml"


def make_rigs(folder: Path, n: int, prefix: str) -> list[Path]:
    text = SIM_RIG.read_text(encoding="utf-8")
    rigs = []
    for i in range(n):
        rig = folder / f"{prefix}{i}.yaml"
        rig.write_text(text.replace("\nname: sim\n", f"\nname: {prefix}{i}\n"), encoding="utf-8")
        rigs.append(rig)
    return rigs


def timed_run(rigs: list[Path], args: list[str]) -> tuple[float, int, str]:
    out = io.StringIO()
    t0 = time.monotonic()
    rc = run_rigs(rigs, args, out=out)
    return time.monotonic() - t0, rc, out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rigs", type=int, default=4)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("-k", dest="keyword", default=None, help="a subset of the suite (pytest -k)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = ["--time-scale", str(opts.time_scale), "--reports-dir", str(folder / "reports")]
        if opts.keyword:
            args += ["-k", opts.keyword]
        one_s, one_rc, _ = timed_run(make_rigs(folder, 1, "bench-one-"), args)
        many_s, many_rc, text = timed_run(make_rigs(folder, opts.rigs, "bench-many-"), args)
    print(f"1 rig:  {one_s:7.1f} s wall (exit {one_rc})")
    print(f"{opts.rigs} rigs: {many_s:7.1f} s wall (exit {many_rc})")
    print(f"ratio {opts.rigs} rigs / 1 rig: {many_s / one_s:.2f} (goal <= 1.30 for 4 rigs)")
    print(text[text.rfind("rig(s):") - 3 :].rstrip())
    if many_rc != 0:  # say why: the lines where a rig reported a problem
        problems = ("could not", "not complete", "error")
        for line in text.splitlines():
            if "cmi-hil" in line and any(p in line.lower() for p in problems):
                print(line)
    return 0 if one_rc == 0 and many_rc == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
