"""`cmi-hil emulate`: run the reference emulator standalone, print its endpoints as `NAME: URL` lines."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from harness.emulator import EmulatorOptions, EndpointError, start_emulator
from harness.emulator.faults import FAULTS
from harness.profile import ProfileError

#: option field -> command-line flag, so an error names what the user typed
_FLAGS = {
    "extra_slaves": "--slaves",
    "time_scale": "--time-scale",
    "faults": "--fault",
    "profile": "--profile",
    "tcp_port": "--tcp",
    "monitor_port": "--monitor",
    "monitor_baud": "--monitor-baud",
}

_DESCRIPTION = """\
Run the reference emulator (E350 meter + CMi1020 module + M-Bus line) until Ctrl-C. Prints one
'NAME: URL' line per endpoint once it accepts connections:

  mbus: rfc2217://127.0.0.1:PORT  the master port as ser2net shares a USB M-Bus master; the client's baud,
                                  data bits, parity and stop bits are the master's UART on the line
  mbus: tcp://127.0.0.1:PORT      (--tcp) raw bytes as a transparent M-Bus/Ethernet gateway carries them:
                                  libmbus's mbus-tcp-* tools (HOST PORT) and pyserial's socket://127.0.0.1:PORT
                                  use it as they are. The bus side is fixed at 8E1 and the profile's default
                                  baud: after a baud switch the slave no longer hears the gateway, as with a
                                  real gateway set to one rate (power-cycle the bus, or use RFC 2217)
  pty: /dev/pts/N                 (--pty) a pseudo-terminal for masters that only open a tty device
  monitor: tcp://127.0.0.1:PORT   (--monitor) a listen-only bus monitor, as an M-Bus sniffer wired to the
                                  line: every character on the bus, requests and replies, when its stop
                                  bit ends (raw TCP, pyserial socket://; its UART is fixed at 8E1 and the
                                  profile's default baud or --monitor-baud, like a sniffer set to one rate:
                                  after a baud switch it reads garbage). Bytes sent to it are discarded.
                                  Read it with harness.monitor.BusMonitor

Pseudo-terminal limitation: Linux ptys drop the parity flag, so the pty carries 8E1 whatever the master
sets, and masters that read back the termios they set refuse it: libmbus's mbus-serial-* tools stop with
"Failed to set baud rate". Use the TCP endpoint with libmbus's mbus-tcp-* tools instead.

A client that opens an endpoint sees only what the bus carries from then on: replies to other masters
sent while it was not connected are not kept for it.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "emulate",
        help="run the CMi1020/E350 reference emulator and print its endpoints",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    p.add_argument(
        "--pty",
        action="store_true",
        help="also offer the master port as a pseudo-terminal (8E1 only; libmbus's serial tools refuse it)",
    )
    p.add_argument(
        "--tcp",
        type=int,
        nargs="?",
        const=0,
        default=None,
        metavar="PORT",
        help="also offer a raw TCP endpoint (transparent M-Bus gateway) on 127.0.0.1:PORT "
        "(no PORT: any free port)",
    )
    p.add_argument(
        "--monitor",
        type=int,
        nargs="?",
        const=0,
        default=None,
        metavar="PORT",
        help="also offer a listen-only bus monitor (raw TCP) on 127.0.0.1:PORT (no PORT: any free port)",
    )
    p.add_argument(
        "--monitor-baud",
        type=int,
        default=None,
        metavar="BAUD",
        help="the bus monitor's receive rate (default: the profile's default baud)",
    )
    p.add_argument(
        "--echo",
        action="store_true",
        help="the master endpoints echo every byte the master sends, as a half-duplex level converter "
        "does (a master must read back its own request before the reply; rig file mbus.echo: true)",
    )
    p.add_argument(
        "--unpowered",
        action="store_true",
        help="start with the bus at 0 V (default: +36 V so a master can talk at once)",
    )
    p.set_defaults(func=run)


def endpoint_lines(endpoints: dict[str, str]) -> list[str]:
    """'NAME: URL' lines: every master-port URL as ``mbus``, the pty by its path, hints as comments."""
    lines = []
    for name, url in endpoints.items():
        lines.append(f"{'mbus' if name == 'tcp' else name}: {url}")
        if name in ("tcp", "monitor"):
            host, port = url.removeprefix("tcp://").rsplit(":", 1)
            if name == "tcp":
                hint = f"# pyserial: socket://{host}:{port}  libmbus: mbus-tcp-request-data {host} {port} 0"
            else:
                hint = f"# pyserial: socket://{host}:{port}  (listen-only: requests and replies)"
            lines.append(hint)
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        options = EmulatorOptions(
            profile=args.profile,
            faults=args.fault,
            extra_slaves=args.slaves,
            time_scale=args.time_scale,
            seed=args.seed,
            pty=args.pty,
            tcp_port=args.tcp,
            monitor_port=args.monitor,
            monitor_baud=args.monitor_baud,
            powered=not args.unpowered,
            echo=args.echo,
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
    except EndpointError as exc:
        flag = _FLAGS.get(exc.option, exc.option)
        print(f"cmi-hil emulate: {flag} {getattr(args, flag.lstrip('-'), '')}: {exc}", file=sys.stderr)
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
        for line in endpoint_lines(emu.endpoints):
            print(line, flush=True)
        faults = ", ".join(sorted(emu.faults)) or "none"
        echo = ", master endpoints echo the master's bytes" if options.echo else ""
        print(
            f"# {len(emu.slaves)} slave(s), faults: {faults}, time scale {emu.time_scale}{echo}", flush=True
        )
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
