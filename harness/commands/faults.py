"""`cmi-hil faults [--area AREA] [--json]`: the emulator's seeded faults and what each breaks.

A seeded fault is one documented deviation a real module could have; ``cmi-hil run --fault NAME`` runs the
suite against the emulator with it, and ``cmi-hil mutate`` checks that the suite catches every one. The
catalogue is a sample of what can go wrong, not the target (architecture.md, "Sharpness is measured").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "faults",
        help="list the emulator's seeded faults and what each breaks",
        description="List the seeded faults of the reference emulator (run one: `cmi-hil run --fault NAME`).",
    )
    p.add_argument("--area", default=None, help="only faults of this area, e.g. 'timing' or 'addressing'")
    p.add_argument("--json", action="store_true", help="one JSON object per fault")
    p.set_defaults(func=faults_command)


def faults_command(args: argparse.Namespace) -> int:
    from harness.emulator.faults import FAULTS

    faults = sorted(FAULTS.values(), key=lambda f: (f.area, f.name))
    if args.area is not None:
        faults = [f for f in faults if f.area == args.area]
        if not faults:
            areas = ", ".join(sorted({f.area for f in FAULTS.values()}))
            print(f"cmi-hil faults: no fault in area {args.area!r}; areas: {areas}", file=sys.stderr)
            return 2
    if args.json:
        for f in faults:
            print(
                json.dumps({"name": f.name, "area": f.area, "source": f.source, "description": f.description})
            )
        return 0
    width = max(len(f.name) for f in faults)
    area_w = max(len(f.area) for f in faults)
    print(f"{'fault'.ljust(width)}  {'area'.ljust(area_w)}  what it changes  [what it breaks]")
    for f in faults:
        print(f"{f.name.ljust(width)}  {f.area.ljust(area_w)}  {f.description}  [{f.source}]")
    print(f"{len(faults)} fault(s); run one with: cmi-hil run --fault NAME")
    return 0


__all__ = ["register", "faults_command"]
