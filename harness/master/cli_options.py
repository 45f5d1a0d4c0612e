"""Options shared by the commands that open an M-Bus master port (`scan`, `read`)."""

from __future__ import annotations

import argparse

from harness.master import Master
from harness.mbus.model import BAUD_BY_CI


def add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        required=True,
        metavar="URL",
        help="pyserial URL of the M-Bus master: /dev/ttyUSB0, rfc2217://host:port, "
        "socket://host:port, loop://",
    )
    parser.add_argument(
        "--baud",
        type=int,
        default=2400,
        choices=sorted(BAUD_BY_CI.values()),
        help="line rate, 8E1 (default 2400)",
    )
    parser.add_argument(
        "--retries", type=int, default=1, help="repeats after no or garbled reply (default 1)"
    )
    parser.add_argument(
        "--latency-allowance-ms",
        type=float,
        default=50.0,
        help="added to the EN 13757-2 reply window for USB/network latency (default 50)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulator only: scale of the emulator's timers (e.g. 0.1), default 1",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def open_master(args: argparse.Namespace) -> Master:
    if args.time_scale <= 0:
        raise ValueError(f"--time-scale must be > 0, got {args.time_scale}")
    if args.retries < 0:
        raise ValueError(f"--retries must be >= 0, got {args.retries}")
    return Master(
        args.port,
        args.baud,
        time_scale=args.time_scale,
        latency_allowance_s=args.latency_allowance_ms / 1000.0,
        retries=args.retries,
    )
