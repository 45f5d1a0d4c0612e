"""Benchmark: false failures of back-to-back read-outs on a loaded, scaled simulated bench.

The robustness test's pattern (SND_NKE, then REQ_UD2 and SND_NKE alternating, 12 requests a round) against
the reference emulator at a small time scale, with the master set up as the simulated bench sets it up
(reply allowance, no retries). Every reply that is not exactly the expected frame is printed with its
problem; the clean emulator should give none. Run two at once to load a 2-core machine the way
``cmi-hil mutate --jobs 2`` does.

    python tests/benchmarks/bench_back_to_back.py [--time-scale 0.05] [--rounds 300]
"""

from __future__ import annotations

import argparse
import time

from harness.emulator import EmulatorOptions, start_emulator
from harness.master import Master, NoReply
from harness.mbus import LongFrame, ShortFrame, encode
from harness.mbus.model import C_FCB, C_FCV, REQ_UD2, SND_NKE

#: the simulated bench's reply allowance (fixtures.bench.SIM_REPLY_ALLOWANCE_S)
SIM_REPLY_ALLOWANCE_S = 0.25
REQUESTS_PER_ROUND = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    bad = 0
    t0 = time.monotonic()
    with start_emulator(EmulatorOptions(time_scale=args.time_scale, powered=True)) as emu:
        address = emu.profile.identity.primary_address
        nke = encode(ShortFrame(c=SND_NKE, a=address))
        ud2 = encode(ShortFrame(c=REQ_UD2 | C_FCV | C_FCB, a=address))
        with Master(
            emu.endpoints["mbus"],
            emu.profile.link.default_baud,
            time_scale=args.time_scale,
            latency_allowance_s=SIM_REPLY_ALLOWANCE_S,
            retries=0,
        ) as master:
            for rnd in range(args.rounds):
                master.link_reset(address)
                for i in range(REQUESTS_PER_ROUND):
                    try:
                        reply = master.transact(nke if i % 2 else ud2)
                    except NoReply as exc:
                        bad += 1
                        print(f"round {rnd} request {i}: {exc}")
                        continue
                    good = reply.data == b"\xe5" if i % 2 else reply.ok and isinstance(reply.frame, LongFrame)
                    if not good:
                        bad += 1
                        print(f"round {rnd} request {i}: {len(reply.data)} bytes, {reply.problem}")
    requests = args.rounds * REQUESTS_PER_ROUND
    print(
        f"time scale {args.time_scale:g}: {requests} requests, {bad} broken replies, "
        f"{time.monotonic() - t0:.1f} s wall"
    )


if __name__ == "__main__":
    main()
