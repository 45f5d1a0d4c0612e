"""`cmi-hil emulate`: run the reference emulator standalone, print its endpoints as `NAME: URL` lines."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from harness.emulator import EmulatorOptions, start_emulator
from harness.emulator.faults import FAULTS
from harness.profile import ProfileError

#: option field -> command-line flag, so an error names what the user typed
_FLAGS = {
    "extra_slaves": "--slaves",
    "time_scale": "--time-scale",
    "faults": "--fault",
    "profile": "--profile",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "emulate",
        help="run the CMi1020/E350 reference emulator and print its endpoints",
        description="Run the reference emulator (E350 meter + CMi1020 module + M-Bus line) until Ctrl-C. "
        "Prints one 'NAME: URL' line per endpoint once it accepts connections.",
    )
    p.add_argument(
        "--profile", type=Path, default=None, help="device profile YAML (default: shipped CMi1020/E350)"
    )
    p.add_argument(
        "--slaves", type=int, default=0, metavar="N", help="extra slaves on the line besides the DUT"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help=f"seed a fault in the DUT (repeatable); one of: {', '.join(sorted(FAULTS))}",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="0.1 = every timer 10x faster (default 1.0 = real time)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for generated slave ids and access numbers")
    p.add_argument(
        "--noise-loss",
        type=float,
        default=0.0,
        metavar="P",
        help="line noise erases or corrupts this fraction of replies (0.1 = one in ten; seeded by --seed)",
    )
    p.add_argument("--pty", action="store_true", help="also offer the master port as a pseudo-terminal")
    p.add_argument(
        "--unpowered",
        action="store_true",
        help="start with the bus at 0 V (default: +36 V so a master can talk at once)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        options = EmulatorOptions(
            profile=args.profile,
            faults=args.fault,
            extra_slaves=args.slaves,
            time_scale=args.time_scale,
            seed=args.seed,
            pty=args.pty,
            powered=not args.unpowered,
        )
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "options"
            print(f"cmi-hil emulate: {_FLAGS.get(field, field)}: {err['msg']}", file=sys.stderr)
        return 2
    try:
        emu = start_emulator(options)
    except ProfileError as exc:
        print(f"cmi-hil emulate: {exc}", file=sys.stderr)
        return 2
    if args.noise_loss:
        try:
            emu.bus.set_line_noise(args.noise_loss, seed=args.seed)
        except ValueError as exc:
            emu.stop()
            print(f"cmi-hil emulate: --noise-loss: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name, url in emu.endpoints.items():
            print(f"{name}: {url}", flush=True)
        faults = ", ".join(sorted(emu.faults)) or "none"
        print(f"# {len(emu.slaves)} slave(s), faults: {faults}, time scale {emu.time_scale}", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("emulator stopped", file=sys.stderr)
    return 0
