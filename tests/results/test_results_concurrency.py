"""Several rigs writing one lab database at once lose nothing: separate OS processes, each storing its
nights and sealing each run, against a real PostgreSQL server (the embedded SQLite file has the same
test in tests/report/test_report_db_concurrency.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from results_history import MEASUREMENTS_PER_RUN, REQUIREMENTS_PER_RUN, TESTS_PER_RUN
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.results import open_db
from harness.results.schema import MeasurementRow, RequirementRow, RunRow, SealRow, TestRow

RIGS = 3
NIGHTS = 4

WRITER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from results_history import night
from harness.results import open_db, record_seal, store_run
url, rig = sys.argv[2], sys.argv[3]
engine = open_db(url)  # every rig may be the one that creates the schema
print("ready", flush=True)
sys.stdin.readline()  # all rigs start together
for day in range(int(sys.argv[4])):
    n = night(day, rig=rig, seed=hash((rig, day)) & 0xFFFF)
    store_run(engine, n.info, n.tests, n.measurements, n.verdicts)
    for reason in ("sealed at the end of the run", "report re-rendered"):
        record_seal(engine, n.info.run_id, manifest_json=json.dumps({"run": n.info.run_id, "why": reason}),
                    reason=reason)
engine.dispose()
print("done", flush=True)
"""


def _write_concurrently(url: str) -> None:
    here = str(Path(__file__).parent)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, here, url, f"rig{r}", str(NIGHTS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(RIGS)
    ]
    try:
        for w in writers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready", (
                w.stderr and w.stderr.read()
            )
        for w in writers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        results = [w.communicate(timeout=180) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err
        assert out.strip().endswith("done")


def _check_nothing_lost(url: str) -> None:
    engine = open_db(url)
    try:
        with Session(engine) as session:
            count = lambda table: session.scalar(select(func.count()).select_from(table))  # noqa: E731
            per_rig = dict(session.execute(select(RunRow.rig, func.count()).group_by(RunRow.rig)).all())
            seqs = sorted(session.execute(select(SealRow.run_pk, SealRow.seq)).all())
            totals = (count(RunRow), count(TestRow), count(MeasurementRow), count(RequirementRow))
    finally:
        engine.dispose()
    runs = RIGS * NIGHTS
    assert per_rig == {f"rig{r}": NIGHTS for r in range(RIGS)}
    assert totals == (runs, runs * TESTS_PER_RUN, runs * MEASUREMENTS_PER_RUN, runs * REQUIREMENTS_PER_RUN)
    assert len(seqs) == 2 * runs and {seq for _, seq in seqs} == {1, 2}


def test_rigs_writing_postgresql_at_once_lose_nothing(pg_url: str) -> None:
    _write_concurrently(pg_url)  # the schema too is created by whichever rig comes first
    _check_nothing_lost(pg_url)
