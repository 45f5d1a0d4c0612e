"""SCPI query round-trip time on the simulated bench, against peers measured in the same run.

    python tests/benchmarks/bench_scpi.py [--n 500]

Rows (median and 95th percentile per query):
- raw socket  ``*IDN?`` on a plain TCP socket to the same server (no pyvisa): the floor of the server path;
- pyvisa      ``*IDN?`` through pyvisa-py, as the drivers send it;
- bench DMM   ``READ?`` through the DMM driver of an open simulated bench (the emulator's bus current);
- write+query ``VOLT 0`` then ``SYST:ERR?``, with TCP_NODELAY (as the drivers open sockets) and without it
  (pyvisa-py's default), which shows why the drivers set it.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from harness.instruments.sim.instruments import SimPowerSupply
from harness.instruments.sim.scpi_server import ScpiServer
from harness.instruments.visa import open_resource, resource_manager
from harness.rig import load_rig, open_bench

SIM_RIG = Path(__file__).resolve().parents[2] / "rigs" / "sim.yaml"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):
        fn()  # warm-up
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="queries per row (default: %(default)s)")
    args = parser.parse_args()
    n = args.n
    rows: list[tuple[str, list[float]]] = []

    with ScpiServer(SimPowerSupply("cmi-hil,SIM-PSU60,BENCH,1.0")) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rwb")

        def raw_idn() -> None:
            stream.write(b"*IDN?\n")
            stream.flush()
            stream.readline()

        rows.append(("raw socket *IDN?", timed(raw_idn, n)))
        stream.close()
        sock.close()

        resource = open_resource(server.resource)
        rows.append(("pyvisa *IDN?", timed(lambda: resource.query("*IDN?"), n)))
        rows.append(
            (
                "pyvisa write+query, NODELAY",
                timed(lambda: (resource.write("VOLT 0"), resource.query("SYST:ERR?")), n),
            )
        )
        resource.close()

        nagle = resource_manager().open_resource(server.resource)
        nagle.read_termination = nagle.write_termination = "\n"
        slow_n = max(10, n // 25)  # ~40 ms each: keep the run short
        rows.append(
            (
                "pyvisa write+query, Nagle on",
                timed(lambda: (nagle.write("VOLT 0"), nagle.query("SYST:ERR?")), slow_n),
            )
        )
        nagle.close()

    with open_bench(load_rig(SIM_RIG)) as bench:
        assert bench.dmm is not None
        bench.power_dut(36.0)
        rows.append(("bench DMM READ? (emulator)", timed(bench.dmm.read_current_a, n)))

    floor = summary(rows[0][1])[0]
    print(f"SCPI query round trip on the simulated bench (127.0.0.1), n={n} per row")
    print(f"{'row':32} {'median ms':>10} {'p95 ms':>10} {'x raw socket':>13}")
    for name, samples in rows:
        median, p95 = summary(samples)
        print(f"{name:32} {median * 1e3:10.3f} {p95 * 1e3:10.3f} {median / floor:13.1f}")


if __name__ == "__main__":
    main()
