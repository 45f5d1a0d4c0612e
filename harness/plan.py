"""``cmi-hil run --plan``: what a run on this rig would run and what it would skip, and why.

The suite is collected with the run's own selection (``-k``, ``-m``, ``--requirement``) but no test is run,
no instrument is reached and nothing is stored. A test needing a capability the rig file does not promise
(:func:`harness.rig.capabilities.declared_capabilities`) is listed as skipped with the missing capabilities,
and every requirement that would end "not verified" is named, so a lab knows before it books the bench.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

import pytest

from harness.pytest_plugin import CAPABILITY_MARKER, requirement_ids


@dataclass(frozen=True)
class PlannedTest:
    nodeid: str
    requirements: tuple[str, ...]
    needs: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass
class _Collector:
    items: list[PlannedTest] = field(default_factory=list)
    capabilities: set[str] = field(default_factory=set)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            needs: list[str] = []
            for mark in item.iter_markers(CAPABILITY_MARKER):
                needs.extend(a for a in mark.args if a not in needs)
            missing = tuple(sorted(set(needs) - self.capabilities))
            self.items.append(PlannedTest(item.nodeid, tuple(requirement_ids(item)), tuple(needs), missing))


def collect_plan(pytest_args: Sequence[str], capabilities: set[str]) -> tuple[int, list[PlannedTest]]:
    """Collect the suite with ``pytest_args`` (``--collect-only`` added); (pytest's exit code, the tests)."""
    collector = _Collector(capabilities=set(capabilities))
    rc = pytest.main([*pytest_args, "--collect-only", "-qq", "-p", "no:cacheprovider"], plugins=[collector])
    return int(rc), collector.items


def format_plan(rig_name: str, tests: list[PlannedTest], capabilities: set[str], out: IO[str]) -> None:
    """Print the plan: each test with RUN or SKIP (and why), then the requirements left unverified."""
    run = [t for t in tests if not t.missing]
    skip = [t for t in tests if t.missing]
    print(f"plan for rig {rig_name}: capabilities {', '.join(sorted(capabilities)) or 'none'}", file=out)
    for t in tests:
        reqs = ",".join(t.requirements) or "-"
        why = f"  (needs {', '.join(t.missing)}: not on this rig)" if t.missing else ""
        print(f"  {'SKIP' if t.missing else 'RUN '}  {reqs}  {t.nodeid}{why}", file=out)
    decided = {r for t in run for r in t.requirements}
    unverified = sorted({r for t in skip for r in t.requirements} - decided)
    print(f"{len(run)} test(s) would run, {len(skip)} would be skipped", file=out)
    if unverified:
        print(f"not verified on this rig: {', '.join(unverified)}", file=out)
    print("nothing was run, no instrument was reached, nothing was stored", file=out)


__all__ = ["PlannedTest", "collect_plan", "format_plan"]
