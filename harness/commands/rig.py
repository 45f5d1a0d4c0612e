"""``cmi-hil rig check [--rig rigs/sim.yaml] [--strict]``: reach every instrument and the M-Bus port."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
