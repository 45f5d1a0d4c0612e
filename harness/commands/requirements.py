"""`cmi-hil requirements [--area AREA] [--json]`: the requirement catalogue, with sources and methods.

Each row: id, area, how it is verified (``test`` by this suite, ``external`` evidence from another lab), the
bench capabilities its tests need, its source (product-sheet row or EN 13757 clause) and its text. Select a
run by requirement with ``cmi-hil run --requirement ID``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.requirements import CatalogueError, load_catalogue


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "requirements",
        help="list the requirements with their source and how each is verified",
        description="List the requirement catalogue (harness/requirements.yaml or --requirements FILE).",
    )
    p.add_argument("--area", default=None, help="only requirements of this area, e.g. 'link' or 'power'")
    p.add_argument("--requirements", type=Path, default=None, help="another requirement catalogue file")
    p.add_argument("--json", action="store_true", help="one JSON object per requirement")
    p.set_defaults(func=requirements_command)


def requirements_command(args: argparse.Namespace) -> int:
    try:
        catalogue = load_catalogue(args.requirements)
    except CatalogueError as exc:
        print(f"cmi-hil requirements: {exc}", file=sys.stderr)
        return 2
    rows = list(catalogue.requirements)
    if args.area is not None:
        rows = [r for r in rows if r.area == args.area]
        if not rows:
            areas = ", ".join(sorted({r.area for r in catalogue.requirements}))
            print(
                f"cmi-hil requirements: no requirement in area {args.area!r}; areas: {areas}", file=sys.stderr
            )
            return 2
    if args.json:
        for r in rows:
            print(json.dumps(r.model_dump(mode="json")))
        return 0
    id_w = max(len(r.id) for r in rows)
    area_w = max(len(r.area) for r in rows)
    for r in rows:
        needs = f" needs {'+'.join(r.needs)}" if r.needs else ""
        print(f"{r.id.ljust(id_w)}  {r.area.ljust(area_w)}  {r.method}{needs}  [{r.source}]")
        print(f"{' ' * id_w}  {r.text}")
    print(f"{len(rows)} requirement(s)")
    return 0


__all__ = ["register", "requirements_command"]
