"""Benchmark: primary scan and secondary search against libmbus, on an emulated bus with line noise.

Every row gets a fresh emulator (same slave ids, same noise seed), so each strategy meets the same line:
``ours`` (primary: one look per address, then one pass of the secondary search as the second look;
secondary: a second look at silent masks), ``ours silent-confirm`` (primary: a second look at every silent
address), ``ours 1-pass`` (no second look), the libmbus strategy re-implemented in
:mod:`harness.master.scan` / :mod:`harness.master.search`, and libmbus's own ``mbus-serial-scan`` /
``mbus-serial-scan-secondary`` when they are on PATH or in ``../shared/tools/libmbus/`` (run on the
emulator's pseudo-terminal through the ``ptyparity`` shim, built with gcc; real time only, their timeouts
are fixed). Ratios are against real libmbus when it ran, else
against the libmbus strategy.

    nice .venv/bin/python tests/benchmarks/bench_scan.py --time-scale 0.1          # quick
    nice .venv/bin/python tests/benchmarks/bench_scan.py --time-scale 1 --mode secondary --repeats 5

With ``--repeats N`` the bus is rebuilt for seeds seed..seed+N-1 (slave ids and noise) and a summary gives,
per strategy, the median and worst ratio over the seeds and the slaves missed in all. ``--breakdown``
prints where our rows' wall time went, per kind of query (silent windows, answered selects/pings,
header reads, repeats), from the master's transcript.

Not a test: nothing is asserted; the goals (secondary <= 0.5x, primary <= 0.7x libmbus, nothing missed) are
read off the table.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.emulator import EmulatorOptions, start_emulator  # noqa: E402
from harness.master import Master, search_libmbus, search_secondary  # noqa: E402
from harness.master.scan import ConfirmMode, scan_libmbus, scan_primary  # noqa: E402
from harness.master.summary import summarize  # noqa: E402

TOOLS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "libmbus"


#: mode -> strategy -> column ("seconds", "ratio", "missed") -> one value per seed
Summary = dict[str, dict[str, dict[str, list[float]]]]


@dataclass
class Row:
    name: str
    found: list[str]
    probes: int | None
    silent: int | None
    seconds: float
    breakdown: dict[str, tuple[int, float]] | None = None


def _breakdown(m: Master) -> dict[str, tuple[int, float]]:
    """Wall time from each request to the next one, summed per kind of query (count, seconds)."""
    out: dict[str, tuple[int, float]] = {}
    entries = [e for e in m.transcript if e.data or e.direction == "rx"]
    prev_tx: tuple[int, str] | None = None
    answered = False
    last_masks: list[str] = []

    def close(t_us: int) -> None:
        if prev_tx is None:
            return
        t0, summary = prev_tx
        kind = "REQ_UD2 read" if summary.startswith("REQ_UD2") else summary.split()[0]
        repeat = bool(last_masks) and summary == last_masks[-1]
        label = f"{kind} {'answered' if answered else 'silent'}{' (repeat)' if repeat else ''}"
        n, sec = out.get(label, (0, 0.0))
        out[label] = (n + 1, sec + (t_us - t0) / 1e6)

    for e in entries:
        if e.direction == "tx":
            close(e.t_us)
            if prev_tx is not None:
                last_masks.append(prev_tx[1])
            prev_tx, answered = (e.t_us, summarize(bytes.fromhex(e.data))), False
        elif not e.summary.startswith(("stray", "echo")):
            answered = True
    if prev_tx is not None:
        close(prev_tx[0])  # the last request's time is not known past its reply: counted as zero
    return out


def _tool(name: str) -> Path | None:
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    local = TOOLS_DIR / name
    return local if local.is_file() and os.access(local, os.X_OK) else None


def _shim(workdir: Path) -> Path | None:
    src = TOOLS_DIR / "ptyparity.c"
    if not src.is_file() or shutil.which("gcc") is None:
        return None
    out = workdir / "ptyparity.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src), "-ldl"], check=True)
    return out


def _ids(n: int, seed: int, dut: str) -> list[str]:
    rng = random.Random(seed)
    ids: set[str] = set()
    while len(ids) < n - 1:
        cand = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        if cand != dut:
            ids.add(cand)
    return sorted(ids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slaves", type=int, default=10)
    ap.add_argument("--mode", choices=["primary", "secondary", "both"], default="both")
    ap.add_argument("--time-scale", type=float, default=0.1)
    ap.add_argument("--allowance-ms", type=float, default=10.0, help="master latency allowance (not scaled)")
    ap.add_argument("--noise-loss", type=float, default=0.1, help="share of replies erased or corrupted")
    ap.add_argument("--seed", type=int, default=1, help="slave ids and noise")
    ap.add_argument("--no-tools", action="store_true", help="skip libmbus's own tools")
    ap.add_argument("--repeats", type=int, default=1, help="seeds seed..seed+N-1; median and worst ratio")
    ap.add_argument("--breakdown", action="store_true", help="where our rows' time went, per query kind")
    ap.add_argument(
        "--skip", action="append", default=[], metavar="NAME", help="leave out rows whose name contains NAME"
    )
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    summary: Summary = {}
    first_seed = args.seed
    for k in range(args.repeats):
        _one_seed(args, first_seed + k, summary)
    if args.repeats > 1:
        for mode, rows in summary.items():
            print(f"\n{mode}: {args.repeats} seeds from {first_seed}, ratio against the last row per seed")
            head = f"{'strategy':<36} {'median s':>9} {'median ratio':>12} {'worst ratio':>11} {'missed':>7}"
            print(head)
            print("-" * len(head))
            for name, cols in rows.items():
                secs, ratios, missed = cols["seconds"], cols["ratio"], cols["missed"]
                print(
                    f"{name:<36} {statistics.median(secs):>9.2f} {statistics.median(ratios):>12.2f} "
                    f"{max(ratios):>11.2f} {int(sum(missed)):>7}"
                )
    return 0


def _one_seed(args: argparse.Namespace, seed: int, summary: Summary) -> None:
    args.seed = seed
    workdir = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    shim = None if args.no_tools or args.time_scale != 1.0 else _shim(workdir)
    probe = start_emulator(EmulatorOptions())
    dut = probe.dut.id
    probe.stop()
    ids = _ids(args.slaves, args.seed, dut)
    print(
        f"{args.slaves} slaves at 2400 Bd, time scale {args.time_scale:g}, "
        f"allowance {args.allowance_ms:g} ms, line noise {args.noise_loss:g} of replies "
        f"(mixed erase/corrupt), seed {args.seed}"
    )

    def on_bus(fn: Callable[[Master, str], Row]) -> tuple[Row, list[str], str]:
        opts = EmulatorOptions(powered=True, time_scale=args.time_scale, slave_ids=ids, pty=shim is not None)
        with start_emulator(opts) as emu:
            emu.bus.set_line_noise(args.noise_loss, seed=args.seed)
            expected = (
                [str(i) for i in range(len(emu.slaves))]
                if mode == "primary"
                else sorted(s.id for s in emu.slaves)
            )
            with Master(
                emu.endpoints["mbus"],
                2400,
                time_scale=args.time_scale,
                latency_allowance_s=args.allowance_ms / 1e3,
            ) as m:
                row = fn(m, emu.endpoints.get("pty", ""))
            noise = emu.bus.noise
            hits = f"{noise.dropped} erased, {noise.garbled} corrupted" if noise else "clean"
        return row, expected, hits

    modes = ["primary", "secondary"] if args.mode == "both" else [args.mode]
    for mode in modes:
        runs: list[tuple[str, Callable[[Master, str], Row]]] = []
        if mode == "primary":
            for confirm, label in (
                ("secondary", "ours"),
                ("silent", "ours silent-confirm"),
                ("none", "ours 1-pass"),
            ):

                def ours_p(m: Master, _pty: str, confirm: ConfirmMode = confirm, label: str = label) -> Row:
                    r = scan_primary(m, confirm=confirm)
                    probes = r.probes + r.probes_secondary + r.reads
                    return Row(
                        label, [str(a) for a in r.addresses], probes, r.silent, r.elapsed_s, _breakdown(m)
                    )

                runs.append((label, ours_p))

            def lib_p(m: Master, _pty: str) -> Row:
                r = scan_libmbus(m)
                return Row("libmbus strategy", [str(a) for a in r.addresses], r.probes, r.silent, r.elapsed_s)

            runs.append(("libmbus strategy", lib_p))
        else:
            for twice, label in ((True, "ours"), (False, "ours 1-pass")):

                def ours_s(m: Master, _pty: str, twice: bool = twice, label: str = label) -> Row:
                    r = search_secondary(m, confirm_silent=twice)
                    return Row(label, r.ids(), r.probes, r.silent, r.elapsed_s, _breakdown(m))

                runs.append((label, ours_s))

            def lib_s(m: Master, _pty: str) -> Row:
                r = search_libmbus(m)
                return Row("libmbus strategy", r.ids(), r.probes, r.silent, r.elapsed_s)

            runs.append(("libmbus strategy", lib_s))
        tool = _tool("mbus-serial-scan" if mode == "primary" else "mbus-serial-scan-secondary")
        if shim is not None and tool is not None:

            def real(m: Master, pty: str, tool: Path = tool, mode: str = mode) -> Row:
                m.close()  # the tool has the line to itself
                env = {**os.environ, "LD_PRELOAD": str(shim)}
                t0 = time.monotonic()
                out = subprocess.run(
                    [str(tool), "-b", "2400", pty], env=env, capture_output=True, text=True, timeout=900
                ).stdout
                seconds = time.monotonic() - t0
                if mode == "primary":
                    found = sorted(re.findall(r"device at address (\d+)", out), key=int)
                else:
                    found = sorted(h[:8] for h in re.findall(r"secondary address ([0-9A-F]{16})", out))
                return Row(f"libmbus {tool.name}", found, None, None, seconds)

            runs.append((f"libmbus {tool.name}", real))
        rows = []
        for name, fn in runs:
            if any(skip in name for skip in args.skip) and name != "libmbus strategy":
                continue
            row, expected, hits = on_bus(fn)
            rows.append((row, expected, hits))
            print(f"  ... {mode}: {row.name} {row.seconds:.1f} s", file=sys.stderr, flush=True)
        base = rows[-1][0]
        print(f"\n{mode}: ratio against {base.name}")
        head = (
            f"{'strategy':<32} {'found':>7} {'missed':<28} {'probes':>6} {'silent':>6} "
            f"{'seconds':>8} {'ratio':>6}  noise"
        )
        print(head)
        print("-" * len(head))
        for row, expected, hits in rows:
            missed = sorted(set(expected) - set(row.found), key=lambda x: (len(x), x))
            ratio = row.seconds / base.seconds if base.seconds else float("nan")
            probes = "-" if row.probes is None else str(row.probes)
            silent = "-" if row.silent is None else str(row.silent)
            print(
                f"{row.name:<32} {len(set(row.found) & set(expected)):>3}/{len(expected):<3} "
                f"{(','.join(missed) or 'none'):<28} {probes:>6} {silent:>6} {row.seconds:>8.2f} "
                f"{ratio:>6.2f}  {hits}"
            )
            col = summary.setdefault(mode, {}).setdefault(
                row.name, {"seconds": [], "ratio": [], "missed": []}
            )
            col["seconds"].append(row.seconds)
            col["ratio"].append(ratio)
            col["missed"].append(float(len(missed)))
            if args.breakdown and row.breakdown:
                for label, (n, sec) in sorted(row.breakdown.items(), key=lambda kv: -kv[1][1]):
                    print(f"    {label:<40} {n:>5} x  {sec:>7.2f} s  ({1000 * sec / n:.0f} ms each)")


if __name__ == "__main__":
    sys.exit(main())
