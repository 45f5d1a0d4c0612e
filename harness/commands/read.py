"""`cmi-hil read --port URL (--address N | --id 12345678) [--json]`: read a slave's telegrams.

By primary address: SND_NKE, then REQ_UD2 with FCB toggling while a telegram ends with DIF 1F. By
secondary address: select (CI 52, EN 13757-3), read address 253, deselect. Telegrams are printed as
`cmi-hil decode` prints them. Exit status 0 on success, 1 when the slave cannot be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from harness.commands.decode import frame_json, frame_text
from harness.master import MasterError
from harness.master.cli_options import add_port_options, open_master
from harness.mbus import LongFrame, SecondaryAddress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "read",
        help="read all telegrams of one M-Bus slave",
        description="Read a slave by primary address (--address) or secondary address (--id, 8 digits, "
        "F = wildcard nibble) and print its telegrams decoded.",
    )
    add_port_options(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--address", type=int, help="primary address 0-250 (or 254 with one slave on the bus)"
    )
    target.add_argument("--id", dest="ident", help="secondary address: 8-digit identification number")
    parser.set_defaults(func=run)


def _read(args: argparse.Namespace) -> tuple[str, list[LongFrame]]:
    with open_master(args) as master:
        if args.address is not None:
            return f"primary address {args.address}", master.read(args.address)
        if not master.select(SecondaryAddress(id=args.ident.upper())):
            raise MasterError(
                f"no slave acknowledged the select of secondary address {args.ident.upper()} within "
                f"{master.reply_timeout_s() * 1000:.1f} ms at {args.baud} Bd "
                "(EN 13757-2 reply window + allowance); "
                "check the id (cmi-hil scan --secondary lists them), wiring and baud"
            )
        try:
            return f"secondary address {args.ident.upper()}", master.read_selected()
        finally:
            master.deselect()


def run(args: argparse.Namespace) -> int:
    if args.address is not None and not (0 <= args.address <= 250 or args.address == 254):
        print(f"cmi-hil read: --address must be 0-250 or 254, got {args.address}", file=sys.stderr)
        return 2
    if args.ident is not None and not re.fullmatch(r"[0-9Ff]{8}", args.ident):
        print(
            f"cmi-hil read: --id must be 8 characters, digits or F wildcards, got {args.ident!r}",
            file=sys.stderr,
        )
        return 2
    try:
        who, telegrams = _read(args)
    except ValueError as exc:
        print(f"cmi-hil read: {exc}", file=sys.stderr)
        return 2
    except MasterError as exc:
        print(f"cmi-hil read: {exc}", file=sys.stderr)
        return 1
    n = len(telegrams)
    sources = [f"{who}, telegram {i}/{n}" for i in range(1, n + 1)]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "source": s,
                        "ok": True,
                        "frame": frame_json(t),
                        "diagnostics": [d.as_dict() for d in t.diagnostics],
                    }
                    for s, t in zip(sources, telegrams, strict=True)
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(
            "\n\n".join(
                frame_text(s, t, list(t.diagnostics)) for s, t in zip(sources, telegrams, strict=True)
            )
        )
    return 0
