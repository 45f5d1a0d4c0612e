"""Benchmark: our secondary search against a re-implementation of libmbus's strategy, same buses, one run.

Each bus is the reference emulator (DUT + extra slaves) served over its real RFC 2217 endpoint; both
searches run through the same Master (same EN 13757-2 reply windows, scaled by the emulator's time scale,
same latency allowance), so the ratios compare strategies, not transports. Prints probes (select
telegrams), silent probes (each costs a full reply window), reads (REQ_UD2), wall time, the ratios
ours/libmbus, and whether each search found exactly the slaves on the bus.

    /work/venv/bin/python tests/benchmarks/bench_search.py            # 1, 10, 50, 250 slaves
    /work/venv/bin/python tests/benchmarks/bench_search.py --sizes 1 10 50 --time-scale 0.1

Not a test: nothing is asserted; the goal (<= 0.5 probes and time of libmbus at >= 50 slaves) is read off.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.emulator import EmulatorOptions, start_emulator  # noqa: E402
from harness.master import Master, SearchResult, search_libmbus, search_secondary  # noqa: E402


def bus_ids(dut_id: str, n: int, kind: str, seed: int) -> list[str]:
    """Ids of the n-1 extra slaves: random 8-digit, or consecutive serial numbers after the DUT's."""
    if kind == "consecutive":
        return [f"{int(dut_id) + k:08d}" for k in range(1, n)]
    rng = random.Random(seed * 1000 + n)
    ids: set[str] = set()
    while len(ids) < n - 1:
        cand = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        if cand != dut_id:
            ids.add(cand)
    return sorted(ids)


def run_one(n: int, kind: str, args: argparse.Namespace) -> tuple[SearchResult, SearchResult, bool, bool]:
    probe = start_emulator(EmulatorOptions(powered=True, time_scale=args.time_scale))
    dut_id = probe.dut.id
    probe.stop()
    ids = bus_ids(dut_id, n, kind, args.seed)
    opts = EmulatorOptions(powered=True, time_scale=args.time_scale, slave_ids=ids or None, seed=args.seed)
    with start_emulator(opts) as emu:
        expected = sorted(s.id for s in emu.slaves)
        with Master(
            emu.endpoints["mbus"],
            2400,
            time_scale=args.time_scale,
            latency_allowance_s=args.allowance_ms / 1000.0,
        ) as m:
            ours = search_secondary(m)
            time.sleep(0.05)
            lib = search_libmbus(m)
    for r in (ours, lib):
        if r.ids() != expected:
            missed = sorted(set(expected) - set(r.ids()))
            extra = sorted(set(r.ids()) - set(expected))
            print(
                f"  {r.strategy} on {n} {kind}: missed {missed} extra {extra} duplicates {r.duplicates}",
                flush=True,
            )
    return ours, lib, ours.ids() == expected, lib.ids() == expected


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50, 250])
    ap.add_argument(
        "--kinds", nargs="+", default=["random", "consecutive"], choices=["random", "consecutive"]
    )
    ap.add_argument("--time-scale", type=float, default=0.05, help="emulator and master time scale")
    ap.add_argument("--allowance-ms", type=float, default=50.0, help="master latency allowance (not scaled)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(
        f"secondary search at 2400 Bd, time scale {args.time_scale:g}, "
        f"latency allowance {args.allowance_ms:g} ms, seed {args.seed}"
    )
    head = (
        f"{'slaves':>6} {'ids':<11} | {'ours probes':>11} {'silent':>6} {'reads':>5} {'time s':>7} | "
        f"{'lib probes':>10} {'silent':>6} {'reads':>5} {'time s':>7} | {'probes':>6} {'time':>6} | found"
    )
    print(head)
    print("-" * len(head))
    for n in args.sizes:
        for kind in args.kinds:
            if n == 1 and kind == "consecutive":
                continue  # one slave: nothing is consecutive
            ours, lib, ok_ours, ok_lib = run_one(n, kind, args)
            rp = ours.probes / lib.probes if lib.probes else float("nan")
            rt = ours.elapsed_s / lib.elapsed_s if lib.elapsed_s else float("nan")
            label = "random" if n > 1 and kind == "random" else ("one" if n == 1 else "consecutive")
            found = f"ours {'ok' if ok_ours else 'WRONG'}, lib {'ok' if ok_lib else 'WRONG'}"
            for r in (ours, lib):
                if r.allowance_s > args.allowance_ms / 1000.0 + 1e-9:
                    found += f"; {r.strategy} allowance widened to {r.allowance_s * 1000:.0f} ms"
            print(
                f"{n:>6} {label:<11} | {ours.probes:>11} {ours.silent:>6} {ours.reads:>5} "
                f"{ours.elapsed_s:>7.2f} | {lib.probes:>10} {lib.silent:>6} {lib.reads:>5} "
                f"{lib.elapsed_s:>7.2f} | {rp:>6.2f} {rt:>6.2f} | {found}",
                flush=True,
            )
    print("ratios = ours / libmbus strategy (lower is better); probes = select telegrams sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
