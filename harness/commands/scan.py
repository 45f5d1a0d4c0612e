"""`cmi-hil scan --port URL [--baud 2400] [--primary | --secondary] [--json]`: find the slaves on a bus.

Primary: SND_NKE to every address 0..250, an E5 means a slave is there (EN 13757-2). Secondary: wildcard
select search by identification number (EN 13757-3), reading each slave's long header. Progress on stderr.
Exit status 0 on success (even when nothing is found), 1 when the port fails, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys

from harness.master import MasterError, ProbeEvent
from harness.master.cli_options import add_port_options, open_master


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
    parser.set_defaults(func=run, mode="primary")


def _primary_progress(address: int, present: bool) -> None:
    sys.stderr.write(f"\rscan: address {address:3d}{'  found' if present else '       '}")
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
                found = master.scan_primary(range(args.first, args.last + 1), progress=_primary_progress)
                sys.stderr.write("\n")
                if args.json:
                    print(
                        json.dumps(
                            {"port": args.port, "baud": args.baud, "mode": "primary", "addresses": found},
                            indent=2,
                        )
                    )
                else:
                    print(
                        f"{len(found)} slave(s) at primary address(es): "
                        + (", ".join(str(a) for a in found) or "none")
                    )
                return 0
            result = master.search_secondary(progress=_secondary_progress)
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
