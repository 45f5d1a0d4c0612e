"""Benchmark: how faithfully the simulated DMM's timed capture keeps its sample timer, and what a capture
across a reply to REQ_UD2 shows on the simulated bench (mark level, space level, samples of each).

Timer: the simulated DMM is given a "current" that is the host's monotonic clock, so each sample is its own
time stamp; the intervals between them are the achieved sample timer (mean, 99th percentile, largest), to
compare with the asked interval. Reply: the simulated rig's bench and master, as the conformance test runs.

    python tests/benchmarks/bench_current_capture.py [--interval 0.001] [--count 1000] [--time-scale 0.1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fixtures.current import reply_capture_s  # noqa: E402
from harness.current_interface import split_levels  # noqa: E402
from harness.instruments.dmm import ScpiDmm  # noqa: E402
from harness.instruments.sim.instruments import SimDmm  # noqa: E402
from harness.instruments.sim.scpi_server import ScpiServer  # noqa: E402
from harness.instruments.visa import open_resource  # noqa: E402
from harness.master import Master  # noqa: E402
from harness.rig import load_rig, open_bench  # noqa: E402

SIM_RIG = Path(__file__).resolve().parents[2] / "rigs" / "sim.yaml"


def timer_fidelity(interval_s: float, count: int) -> None:
    instrument = SimDmm("cmi-hil,SIM-DMM6,BENCH,1.0")
    t0 = time.monotonic()
    instrument.reading_a = lambda: (time.monotonic() - t0) * 1e-3  # 1 s of clock reads as 1 mA
    with ScpiServer(instrument) as server:
        dmm = ScpiDmm(open_resource(server.resource), range_a=1.0)
        try:
            dmm.arm_sampling(1.0, count, interval_s)
            dmm.trigger_sampling()
            stamps = [s * 1e3 for s in dmm.fetch_samples_a()]
            dmm.stop_sampling()
        finally:
            dmm.close()
    steps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    p99, mean = steps[int(0.99 * (len(steps) - 1))], statistics.fmean(steps)
    print(
        f"timer: asked {interval_s * 1e3:.3f} ms x {count}; achieved mean {mean * 1e3:.3f} ms, "
        f"p99 {p99 * 1e3:.3f} ms, max {steps[-1] * 1e3:.3f} ms, capture {(stamps[-1] - stamps[0]):.3f} s"
    )


def reply_capture(time_scale: float, interval_s: float, rounds: int) -> None:
    rig = load_rig(SIM_RIG)
    rig = rig.model_copy(update={"emulator": rig.emulator.model_copy(update={"time_scale": time_scale})})
    with open_bench(rig) as bench:
        bench.power_dut(36.0, "+")
        master = Master(bench.mbus_url, baud=bench.mbus_baud, time_scale=time_scale)
        try:
            assert bench.dmm is not None
            count = max(50, round(reply_capture_s(master.baud) * time_scale / interval_s))
            for k in range(rounds):
                master.link_reset(0)
                bench.dmm.arm_sampling(0.1, count, interval_s)
                bench.dmm.trigger_sampling()
                master.request_ud2(0, fcb=True)
                samples = bench.dmm.fetch_samples_a()
                bench.dmm.stop_sampling()
                levels = split_levels(samples, min_step_a=1e-3)
                step = levels.space_above_mark_a
                print(
                    f"reply {k + 1}: {len(samples)} samples, {levels.space_samples} space; mark "
                    f"{levels.mark_a * 1e3:.4f} mA, space above mark "
                    f"{'-' if step is None else f'{step * 1e3:.4f} mA'} (time scale {time_scale:g})"
                )
        finally:
            master.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", type=float, default=0.001, help="sample timer (s)")
    parser.add_argument("--count", type=int, default=1000, help="samples of the timer capture")
    parser.add_argument(
        "--time-scale", type=float, default=0.1, help="emulator time scale of the reply capture"
    )
    parser.add_argument("--rounds", type=int, default=3, help="reply captures")
    args = parser.parse_args()
    timer_fidelity(args.interval, args.count)
    reply_capture(args.time_scale, args.interval, args.rounds)


if __name__ == "__main__":
    main()
