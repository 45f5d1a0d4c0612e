"""Earlier runs of a rig as the console uses them: the newest run folder and its test durations (the ETA).

Kept apart from the ``--progress`` plugin so ``cmi-hil run`` can look up the history before pytest starts
without importing a plugin module ahead of pytest's assertion rewriting.
"""

from __future__ import annotations

from pathlib import Path

from harness.evidence import TESTS_FILE, TestResult, read_jsonl


def history_durations(run_dir: Path | None) -> dict[str, float]:
    """Test durations (s) by node id from a previous run folder's ``tests.jsonl``; empty if unreadable."""
    if run_dir is None:
        return {}
    try:
        return {r.nodeid: r.duration_s for r in read_jsonl(run_dir / TESTS_FILE, TestResult)}
    except (OSError, ValueError):
        return {}


def latest_run_of_rig(reports_dir: Path, rig_name: str, *, exclude: Path | None = None) -> Path | None:
    """The newest run folder of ``rig_name`` under ``reports_dir`` that recorded tests (for the ETA)."""
    if not reports_dir.is_dir():
        return None
    candidates = [
        d
        for d in reports_dir.iterdir()
        if d.is_dir() and d != exclude and d.name.endswith(f"-{rig_name}") and (d / TESTS_FILE).exists()
    ]
    return max(candidates, key=lambda d: d.name, default=None)


__all__ = ["history_durations", "latest_run_of_rig"]
