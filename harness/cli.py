"""`cmi-hil` command line.

Each sub-command lives in its own module under :mod:`harness.commands` and exposes
``register(subparsers)``, which adds a parser whose ``func`` default takes the parsed
arguments and returns the exit status. Commands are discovered, so adding one is adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from harness import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmi-hil",
        description="HIL conformance harness for the Elvaco CMi1020 M-Bus module (EN 13757).",
    )
    parser.add_argument("--version", action="version", version=f"cmi-hil {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        print("cmi-hil: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
