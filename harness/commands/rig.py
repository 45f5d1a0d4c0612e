"""``cmi-hil rig check|calibrate|drivers``: reach every instrument and the M-Bus port, time the adapter."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.profile import DeviceProfile
    from harness.rig.calibrate import LatencyCalibration
    from harness.rig.config import RigConfig

#: rigs/sim.yaml of this checkout (the rig folder sits beside the harness package).
DEFAULT_RIG = Path(__file__).resolve().parents[2] / "rigs" / "sim.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rig", help="rig files and bench instruments")
    actions = parser.add_subparsers(dest="rig_command", metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="connect to every instrument and the M-Bus port; print identities, calibration and problems",
    )
    check.add_argument("--rig", type=Path, default=DEFAULT_RIG, help="rig file (default: rigs/sim.yaml)")
    check.add_argument(
        "--strict", action="store_true", help="certification mode: expired or missing calibration fails"
    )
    check.set_defaults(func=run_check)
    calibrate = actions.add_parser(
        "calibrate",
        help="measure the M-Bus adapter path's latency against a known slave; print the rig-file allowance",
    )
    calibrate.add_argument("--rig", type=Path, default=DEFAULT_RIG, help="rig file (default: rigs/sim.yaml)")
    calibrate.add_argument(
        "--address", type=int, default=None, help="reference slave's primary address (default: its profile's)"
    )
    calibrate.add_argument("--count", type=int, default=40, help="exchanges to time (default: 40)")
    calibrate.add_argument(
        "--dut-profile", type=Path, default=None, help="reference slave's device profile (default: shipped)"
    )
    calibrate.add_argument(
        "--loopback",
        action="store_true",
        help="a loopback plug (TX to RX) is on the adapter instead of the bus: time its echo, no slave",
    )
    calibrate.add_argument(
        "--write",
        action="store_true",
        help="write uncertainty.latency_allowance_s into the rig file (only that value; comments kept)",
    )
    calibrate.set_defaults(func=run_calibrate)
    drivers = actions.add_parser("drivers", help="list the instrument drivers a rig file may name, per role")
    drivers.set_defaults(func=run_drivers)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_drivers(args: argparse.Namespace) -> int:
    """Print every registered driver: role, name, the models it knows and where its commands come from."""
    from harness.instruments.registry import DRIVER_REGISTRY, ROLES

    for role in ROLES:
        print(f"{role}:")
        for entry in (e for e in DRIVER_REGISTRY.values() if e.role == role):
            models = ", ".join(entry.models) if entry.models else "any (generic SCPI subset)"
            summary = ((entry.cls.__doc__ or "").strip().splitlines() or [""])[0]
            print(f"  {entry.name:<18} models: {models}")
            print(f"  {'':<18} {summary}")
    return 0


#: bus voltage the calibration powers the reference slave with (EN 13757-2 typical mark level)
CALIBRATION_VOLTS = 36.0


def run_calibrate(args: argparse.Namespace) -> int:
    """Time ``--count`` exchanges (known slave or loopback plug), print the distribution, maybe write."""
    from harness.instruments.errors import InstrumentError
    from harness.master import MasterError
    from harness.profile import ProfileError, load_profile
    from harness.rig.bench import BenchError
    from harness.rig.calibrate import CalibrationError, format_calibration, write_allowance
    from harness.rig.config import RigFileError, load_rig
    from harness.rig.lock import RigBusy

    def fail(message: str) -> int:
        print(f"cmi-hil rig calibrate: {message}", file=sys.stderr)
        return 2

    try:
        rig = load_rig(args.rig)
        profile = load_profile(args.dut_profile)
    except (RigFileError, ProfileError) as exc:
        return fail(str(exc))
    address = profile.identity.primary_address if args.address is None else args.address
    if not 0 <= address <= 250:
        return fail(f"--address must be a primary address 0..250 (EN 13757-2), got {address}")
    try:
        if args.loopback:
            result = _calibrate_loopback(rig, args.count)
        else:
            result = _calibrate_known_slave(rig, profile, address, args.count)
    except (BenchError, InstrumentError, MasterError, CalibrationError, RigBusy, OSError) as exc:
        return fail(str(exc))
    print(format_calibration(result, rig.name, rig.describe_source()))
    if not args.write:
        print(f"nothing written (--write puts the value into {rig.describe_source()})")
        return 0
    try:
        written = write_allowance(Path(args.rig), result.allowance_s)
    except (CalibrationError, OSError) as exc:
        return fail(str(exc))
    if not written:
        return fail(
            f"{args.rig}: no line 'latency_allowance_s: <value>' under a block 'uncertainty:'; "
            "paste the lines printed above into the rig file"
        )
    print(f"wrote uncertainty.latency_allowance_s: {result.allowance_s:g} into {args.rig}")
    return 0


def _calibrate_loopback(rig: RigConfig, count: int) -> LatencyCalibration:
    """The adapter alone, through a loopback plug: the rig lock is held, no instrument is touched."""
    from harness.master import SerialLink
    from harness.rig.calibrate import CalibrationError, measure_loopback
    from harness.rig.lock import RigLock

    if rig.simulated:
        raise CalibrationError(
            "--loopback needs a real adapter: a simulated rig's sim://mbus is the emulator"
        )
    lock = RigLock(rig.name) if rig.is_exclusive else None
    if lock is not None:
        lock.acquire()
    try:
        link = SerialLink(rig.mbus.url, rig.mbus.baud, latency_allowance_s=0.0)
        try:
            return measure_loopback(link, count=count)
        finally:
            link.close()
    finally:
        if lock is not None:
            lock.release()


def _calibrate_known_slave(
    rig: RigConfig, profile: DeviceProfile, address: int, count: int
) -> LatencyCalibration:
    """Power the reference slave (unless the master feeds the bus) and time exchanges with it."""
    import time

    from harness.master import Master
    from harness.rig.bench import open_bench
    from harness.rig.calibrate import MEASURE_ALLOWANCE_S, measure_latency

    with open_bench(rig) as bench:
        if bench.supply is not None and rig.mbus.master_fixed_volts is None:
            bench.power_dut(CALIBRATION_VOLTS, "+")
            time.sleep(0.5 * bench.time_scale)  # start-up of the reference slave
        scale = bench.time_scale if rig.simulated else 1.0
        nominal = profile.link.reply_delay_s(rig.mbus.baud) * scale
        with Master(
            bench.mbus_url,
            rig.mbus.baud,
            time_scale=scale,
            latency_allowance_s=MEASURE_ALLOWANCE_S,
            echo=rig.mbus.echo,
        ) as master:
            return measure_latency(master, address=address, nominal_s=nominal, count=count)


def run_check(args: argparse.Namespace) -> int:
    from harness.rig.check import check_rig, format_report
    from harness.rig.config import RigFileError, load_rig

    try:
        rig = load_rig(args.rig)
    except RigFileError as exc:
        print(f"cmi-hil rig check: {exc}", file=sys.stderr)
        return 2
    report = check_rig(rig, strict=args.strict)
    print(format_report(report))
    return 0 if report.ok else 1
