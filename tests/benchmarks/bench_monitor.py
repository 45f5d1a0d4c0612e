"""Benchmark: how finely the bus monitor resolves timing on this host (the simulated monitor's budget).

Reads the emulator at real time over RFC 2217 while a BusMonitor listens on the monitor endpoint, then
prints, over every reply: the spread of the reply delay as the monitor measures it, the spread seen by the
master (its own timestamps), and the inter-character gaps with and without the arrival envelope. A clean
module sends back to back, so every gap above 0 is the monitor's error; the largest one is the figure the
rig's monitor resolution must cover. Run it by hand (not collected by pytest):

    python tests/benchmarks/bench_monitor.py [--reads 20] [--pause-bits 0]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics

from harness.emulator import EmulatorOptions, start_emulator
from harness.master import Master
from harness.mbus import encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE, ShortFrame
from harness.mbus.timing import char_time_s
from harness.monitor import BusMonitor

BAUD = 2400


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=20, help="SND_NKE + REQ_UD2 pairs to time")
    ap.add_argument(
        "--pause-bits", type=int, default=0, help="seed a pause of this many idle bits after char 10"
    )
    args = ap.parse_args()
    char_ms = char_time_s(BAUD) * 1e3
    with start_emulator(EmulatorOptions(powered=True, monitor_port=0)) as emu:
        if args.pause_bits:
            emu.bus.set_reply_pause(0, after_char=10, idle_bits=args.pause_bits)
        url = emu.endpoints["monitor"].replace("tcp://", "socket://")
        with BusMonitor(url, baud=BAUD, resolution_s=0.0) as mon, Master(emu.endpoints["mbus"], BAUD) as m:
            master_ms: list[float] = []
            for i in range(args.reads):  # raw exchanges: a garbled reply at the master does not stop the run
                m.transact(encode(ShortFrame(SND_NKE, 0)))
                m.transact(encode(ShortFrame(REQ_UD2 | C_FCV | (C_FCB * (i % 2)), 0)))
                master_ms += [e.latency_ms for e in m.transcript if e.latency_ms is not None]
                m.transcript.clear()
            replies = [ex for ex in mon.wait_for_replies(0, 0.5) if ex.reply is not None]
    delays = [ex.reply_delay_s * 1e3 for ex in replies if ex.reply_delay_s is not None]
    env_gaps = [g * 1e3 for ex in replies for g in ex.reply_gaps_s]
    raw_gaps = [
        (b - a) * 1e-6 - char_ms
        for ex in replies
        if ex.reply is not None
        for a, b in itertools.pairwise(ex.reply.stamps_ns)
    ]
    print(f"host: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {len(replies)} replies")
    print(
        f"reply delay (monitor): mean {statistics.mean(delays):.2f} ms, sd {statistics.pstdev(delays):.2f}, "
        f"min {min(delays):.2f}, max {max(delays):.2f}"
    )
    if master_ms:
        print(
            f"reply latency (master): mean {statistics.mean(master_ms):.2f} ms, "
            f"sd {statistics.pstdev(master_ms):.2f}, min {min(master_ms):.2f}, max {max(master_ms):.2f}"
        )
    for name, gaps in (("with envelope", env_gaps), ("raw stamps", raw_gaps)):
        print(
            f"gaps {name}: {len(gaps)}, p50 {_pct(gaps, 0.5):.3f} ms, p99 {_pct(gaps, 0.99):.3f} ms, "
            f"max {max(gaps):.3f} ms (allowance {char_ms:.2f} ms)"
        )


if __name__ == "__main__":
    main()
