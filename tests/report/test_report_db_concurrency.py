"""Two runs writing the results database at once lose nothing (separate OS processes, one SQLite file)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.results import open_db
from harness.results.schema import MeasurementRow, RequirementRow, RunRow, TestRow

WRITER = """
import sys
from pathlib import Path
from harness.report import load_run, store_run_data
from harness.results import open_db
engine = open_db(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # both writers start together
for folder in sys.argv[2:]:
    store_run_data(engine, load_run(Path(folder)))
engine.dispose()
print("done", flush=True)
"""

RUNS_PER_WRITER = 8


def test_two_processes_storing_runs_at_once_lose_nothing(make_run, tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    url = f"sqlite:///{db}"
    t0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    folders = [
        [
            str(make_run(started=t0 + timedelta(minutes=10 * i + w), rig=f"rig{w}", seed=i))
            for i in range(RUNS_PER_WRITER)
        ]
        for w in range(2)
    ]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, *runs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for runs in folders
    ]
    try:
        for w in writers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        for w in writers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        results = [w.communicate(timeout=120) for w in writers]
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err
        assert out.strip().endswith("done")
    engine = open_db(url)
    try:
        with Session(engine) as session:
            runs = session.scalar(select(func.count()).select_from(RunRow))
            tests = session.scalar(select(func.count()).select_from(TestRow))
            measurements = session.scalar(select(func.count()).select_from(MeasurementRow))
            verdicts = session.scalar(select(func.count()).select_from(RequirementRow))
            per_rig = dict(session.execute(select(RunRow.rig, func.count()).group_by(RunRow.rig)).all())
    finally:
        engine.dispose()
    total = 2 * RUNS_PER_WRITER
    assert runs == total and per_rig == {"rig0": RUNS_PER_WRITER, "rig1": RUNS_PER_WRITER}
    assert tests == total * 10
    assert measurements == total * 22
    assert verdicts == total * 5


def test_storing_the_same_run_again_replaces_it(make_run, tmp_path: Path) -> None:
    from harness.report import load_run, store_run_data

    engine = open_db(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        run = load_run(make_run())
        store_run_data(engine, run)
        store_run_data(engine, run)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(RunRow)) == 1
            assert session.scalar(select(func.count()).select_from(MeasurementRow)) == 22
    finally:
        engine.dispose()


def test_interrupted_and_executed_tests_are_read_from_the_run_folder(make_run, tmp_path: Path) -> None:
    import json

    from harness.report import load_run, store_run_data

    stopped = make_run(run_id="stopped")
    doc = json.loads((stopped / "run.json").read_text())
    (stopped / "run.json").write_text(json.dumps({**doc, "interrupted": True, "verdict": "incomplete"}))
    engine = open_db(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        store_run_data(engine, load_run(make_run(run_id="whole")))  # run.json without the key
        store_run_data(engine, load_run(stopped))
        with Session(engine) as session:
            rows = dict(session.execute(select(RunRow.run_id, RunRow.interrupted)).all())
            executed = set(session.scalars(select(RunRow.tests_executed)))
    finally:
        engine.dispose()
    assert rows == {"whole": False, "stopped": True}
    assert executed == {10}
