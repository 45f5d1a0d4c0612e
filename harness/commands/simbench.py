"""`cmi-hil simbench`: the simulated bench in a process of its own, looking like a real bench.

    cmi-hil simbench --rig-out FILE [--fault NAME]... [--time-scale X] [--name NAME] [--template RIG]

Starts the reference emulator (E350 meter + CMi1020 module on an M-Bus line), its RFC 2217 master port
and one SCPI server per instrument of the template rig (default ``rigs/sim.yaml``: supply, DMM, relay card,
AC source, wired as that rig declares), all on 127.0.0.1. Then writes a rig file that declares this bench
*real* (``simulated: false``, ``exclusive: true``): each instrument a plain ``TCPIP::127.0.0.1::PORT::SOCKET``
VISA resource, the master port an ``rfc2217://`` URL. It prints the rig file and serves until SIGINT,
SIGTERM or SIGHUP.

A harness given that rig file cannot tell it from a lab bench, and the instruments outlive the harness:
after a run has died, ``OUTP?``, ``VOLT?``, ``ROUT:CLOS?`` still say what it left switched on. The harness
treats the bench as real, so it runs in real time and skips what needs the emulator itself (the meter
model, a crowded line); keep ``--time-scale 1`` (the default) where timing verdicts matter.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "rigs" / "sim.yaml"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: reply-timeout allowance of a master reaching the emulator in another process on a shared machine: the
#: scheduler's jitter, as the in-process simulated bench allows (fixtures.bench.SIM_REPLY_ALLOWANCE_S)
DEFAULT_LATENCY_ALLOWANCE_S = 0.25
#: printed once every endpoint accepts connections (scripts wait for it)
READY_LINE = "# simbench ready: serving until SIGINT or SIGTERM"


class SimbenchError(Exception):
    """The bench cannot be started as asked; the message says what to change."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simbench",
        help="serve the simulated bench in its own process and write a real-looking rig file for it",
        description="Run the emulator and simulated instruments as a separate bench; write a rig file "
        "(simulated: false) naming their TCPIP::...::SOCKET and rfc2217:// endpoints; serve until Ctrl-C.",
    )
    p.add_argument("--rig-out", type=Path, required=True, metavar="FILE", help="rig file to write")
    p.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="seed an emulator fault (repeatable)"
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="emulator timers (default 1 = real time, as a harness on a real rig expects)",
    )
    p.add_argument(
        "--latency-allowance",
        type=float,
        default=DEFAULT_LATENCY_ALLOWANCE_S,
        metavar="S",
        help="uncertainty.latency_allowance_s written in the rig file (default: %(default)s s)",
    )
    p.add_argument("--name", default="simbench", help="rig name in the written file (default: %(default)s)")
    p.add_argument(
        "--template",
        type=Path,
        default=DEFAULT_TEMPLATE,
        metavar="RIG",
        help="simulated rig whose instruments and wiring are served (default: rigs/sim.yaml)",
    )
    p.set_defaults(func=run)


def real_rig_data(
    template: Any, *, name: str, resources: dict[str, str], mbus_url: str, latency_allowance_s: float
) -> dict[str, Any]:
    """The template rig declared real: instruments at the served VISA resources, the master port URL."""
    data: dict[str, Any] = template.model_dump(mode="json", exclude_none=True)
    data.pop("emulator", None)
    data.update(
        name=name,
        simulated=False,
        exclusive=True,
        description=f"Simulated bench served by `cmi-hil simbench` from rig {template.name!r}, declared real",
    )
    for role, resource in resources.items():
        data["instruments"][role]["resource"] = resource
    data["mbus"]["url"] = mbus_url
    data["uncertainty"]["latency_allowance_s"] = latency_allowance_s
    return data


def run(args: argparse.Namespace) -> int:
    try:
        return serve(args)
    except SimbenchError as exc:
        print(f"cmi-hil simbench: {exc}", file=sys.stderr)
        return 2


def serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from harness.emulator import EmulatorOptions, start_emulator
    from harness.instruments.sim import SimBench
    from harness.rig import RigFileError, load_rig
    from harness.rig.bench import sim_wiring

    try:
        template = load_rig(args.template)
    except RigFileError as exc:
        raise SimbenchError(str(exc)) from None
    if not template.simulated or template.emulator is None:
        raise SimbenchError(f"--template {args.template} is a real rig; give a simulated one (rigs/sim.yaml)")
    settings = template.emulator
    try:
        options = EmulatorOptions(
            profile=settings.profile,
            faults=args.fault or settings.faults,
            extra_slaves=settings.extra_slaves,
            slave_ids=settings.slave_ids,
            time_scale=args.time_scale,
            seed=settings.seed,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SimbenchError(f"{problems} (see --fault and --time-scale)") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    emulator = start_emulator(options)
    try:
        with SimBench(emulator.physics, sim_wiring(template)) as sim:
            data = real_rig_data(
                template,
                name=args.name,
                resources=sim.resources,
                mbus_url=emulator.endpoints["mbus"],
                latency_allowance_s=args.latency_allowance,
            )
            text = yaml.safe_dump(data, sort_keys=False)
            args.rig_out.parent.mkdir(parents=True, exist_ok=True)
            args.rig_out.write_text(text, encoding="utf-8")
            load_rig(args.rig_out)  # what was written is a valid real rig
            print(f"# rig file: {args.rig_out}", flush=True)
            print(text, end="", flush=True)
            faults = ", ".join(sorted(emulator.faults)) or "none"
            print(f"# faults: {faults}; time scale {emulator.time_scale:g}", flush=True)
            print(READY_LINE, flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("cmi-hil simbench: stopped", file=sys.stderr)
    return 0
