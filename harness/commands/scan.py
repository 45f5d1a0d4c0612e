"""`cmi-hil scan --port URL [--baud 2400] [--primary | --secondary] [--json]`: find the slaves on a bus.

Primary: SND_NKE to every address 0..250, an E5 means a slave is there (EN 13757-2); silent addresses get a
second look after the first pass (line noise can erase a reply), ``--single-pass`` skips it. Secondary:
wildcard select search by identification number (EN 13757-3), reading each slave's long header, silent
masks looked at twice the same way. Progress on stderr.
Exit status 0 on success (even when nothing is found), 1 when the port fails, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys

from harness.master import MasterError, ProbeEvent, search_secondary
from harness.master.cli_options import add_port_options, open_master
from harness.master.scan import CONFIRM_MODES, Presence, scan_primary


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="find M-Bus slaves by primary or secondary address",
        description="Scan an M-Bus line. --primary (default) pings addresses 0-250 with SND_NKE; "
        "--secondary searches identification numbers with wildcard selects.",
    )
    add_port_options(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--primary",
        dest="mode",
        action="store_const",
        const="primary",
        help="scan primary addresses 0-250 (default)",
    )
    mode.add_argument(
        "--secondary",
        dest="mode",
        action="store_const",
        const="secondary",
        help="search secondary addresses (identification numbers)",
    )
    parser.add_argument("--from", dest="first", type=int, default=0, help="primary scan: first address")
    parser.add_argument("--to", dest="last", type=int, default=250, help="primary scan: last address")
    parser.add_argument(
        "--single-pass",
        action="store_true",
        help="look at each silent address/mask once (faster; a reply lost to line noise hides that slave)",
    )
    parser.add_argument(
        "--confirm",
        choices=CONFIRM_MODES,
        default="secondary",
        help="primary scan, second look after the first pass: 'secondary' (default) a secondary search names "
        "where slaves sit and only those silent addresses are asked again; 'silent' every silent address "
        "again (a bus with slaves that lack secondary addressing); 'none' one pass",
    )
    parser.set_defaults(func=run, mode="primary")


def _primary_progress(address: int, presence: Presence) -> None:
    present = presence != "empty"
    label = {"empty": "       ", "present": "  found", "collision": "  found (more than one slave)"}[presence]
    sys.stderr.write(f"\rscan: address {address:3d}{label}")
    if present:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _secondary_progress(ev: ProbeEvent) -> None:
    sys.stderr.write(f"\rsearch: probe {ev.probes:4d} mask {ev.mask} {ev.outcome:9s} found {ev.found:3d}   ")
    if ev.header is not None:
        sys.stderr.write(
            f"\nfound {ev.header.id} {ev.header.manufacturer} version {ev.header.version} "
            f"medium {ev.header.medium:02X}\n"
        )
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    if args.mode == "primary" and not 0 <= args.first <= args.last <= 250:
        print(
            f"cmi-hil scan: --from/--to must satisfy 0 <= from <= to <= 250, got {args.first}..{args.last}",
            file=sys.stderr,
        )
        return 2
    try:
        master = open_master(args)
    except (MasterError, ValueError) as exc:
        print(f"cmi-hil scan: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, MasterError) else 2
    with master:
        try:
            if args.mode == "primary":
                scan = scan_primary(
                    master,
                    range(args.first, args.last + 1),
                    confirm=args.confirm,
                    confirm_silent=not args.single_pass,
                    progress=_primary_progress,
                )
                found = scan.addresses
                sys.stderr.write("\n")
                if args.json:
                    print(
                        json.dumps(
                            {
                                "port": args.port,
                                "baud": args.baud,
                                "mode": "primary",
                                "addresses": found,
                                "collisions": scan.collisions,
                                "probes": scan.probes,
                                "silent_probes": scan.silent,
                                "confirm": scan.confirm,
                                "elapsed_s": round(scan.elapsed_s, 3),
                            },
                            indent=2,
                        )
                    )
                else:
                    print(
                        f"{len(found)} slave(s) at primary address(es): "
                        + (", ".join(str(a) for a in found) or "none")
                    )
                    for a in scan.collisions:
                        print(f"  {a}  COLLISION: more than one slave answers this primary address")
                return 0
            result = search_secondary(
                master, progress=_secondary_progress, confirm_silent=not args.single_pass
            )
            sys.stderr.write("\n")
        except MasterError as exc:
            print(f"\ncmi-hil scan: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(
            json.dumps(
                {
                    "port": args.port,
                    "baud": args.baud,
                    "mode": "secondary",
                    "slaves": [
                        {"id": h.id, "manufacturer": h.manufacturer, "version": h.version, "medium": h.medium}
                        for h in result
                    ],
                    "duplicates": result.duplicates,
                    "unreadable": result.unreadable,
                    "probes": result.probes,
                    "silent_probes": result.silent,
                    "reads": result.reads,
                    "elapsed_s": round(result.elapsed_s, 3),
                },
                indent=2,
            )
        )
    else:
        print(
            f"{len(result)} slave(s) found by secondary address ({result.probes} probes, "
            f"{result.silent} silent, {result.elapsed_s:.1f} s):"
        )
        for h in result:
            print(f"  {h.id}  {h.manufacturer}  version {h.version}  medium {h.medium:02X}")
        for u in result.unreadable:
            print(f"  {u}  UNREADABLE: acknowledges the select, but its RSP_UD never arrived intact")
        for d in result.duplicates:
            print(f"  {d}  DUPLICATE: more than one slave answers this id; their headers cannot be read")
    return 0
