"""The same SQLAlchemy models on SQLite and PostgreSQL: schema from the Alembic revisions, append-only
seals, the trend baseline rule, and trends and drift giving the same answers on both engines."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from results_history import Night, night
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from harness.results import (
    compare_with_history,
    latest_run_ids,
    measurement_series,
    open_db,
    record_seal,
    seal_history,
    store_run,
)
from harness.results.migrate import current_revision, head_revision
from harness.results.schema import Base


def _store(engine: Engine, n: Night) -> None:
    store_run(engine, n.info, n.tests, n.measurements, n.verdicts)


def _manifest(run_id: str, marker: str) -> str:
    doc = {"format": "cmi-hil-manifest/1", "run_id": run_id, "files": [{"path": "x", "sha256": marker}]}
    return json.dumps(doc)


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = open_db(db_url)
    yield engine
    engine.dispose()


def test_the_revisions_build_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_seals_are_append_only_and_survive_storing_the_run_again(engine: Engine) -> None:
    n = night(0)
    _store(engine, n)
    first = record_seal(engine, n.info.run_id, manifest_json=_manifest(n.info.run_id, "a"), reason="run end")
    _store(engine, n)  # `cmi-hil report` stores the run again before re-sealing: the history stays
    second = record_seal(engine, n.info.run_id, manifest_json=_manifest(n.info.run_id, "b"), reason="fix")
    history = seal_history(engine, n.info.run_id)
    assert history is not None and [s.seq for s in history] == [1, 2]
    assert history[0] == first and history[1] == second and first.sealed_by and "@" in first.sealed_by
    for statement in ("UPDATE seals SET reason = 'rewritten'", "DELETE FROM seals"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with pytest.raises(DBAPIError), engine.begin() as conn:  # a sealed run cannot be deleted either
        conn.execute(text("DELETE FROM runs"))
    assert seal_history(engine, n.info.run_id) == history
    with pytest.raises(LookupError, match="not in the results database"):
        record_seal(engine, "no-such-run", manifest_json="{}", reason="x")


def test_runs_that_executed_no_test_are_no_baseline(engine: Engine) -> None:
    for day in range(4):
        _store(engine, night(day))
    refused = night(5, skipped=True)  # every test skipped: the bench was never exercised
    _store(engine, refused)
    tonight = night(6)
    _store(engine, tonight)
    assert latest_run_ids(engine) == {"sim": tonight.info.run_id}
    earlier = compare_with_history(engine, tonight.info.run_id).earlier_runs
    assert refused.info.run_id not in earlier and len(earlier) == 4
    for series in measurement_series(engine):
        assert refused.info.run_id not in [p.run_id for p in series.points]
    # ...and the rule reads what the run did: the same night with its tests executed is a baseline
    _store(engine, night(5, seed=5))
    assert len(compare_with_history(engine, tonight.info.run_id).earlier_runs) == 5
    # a newest run that executed nothing does not hide the latest real one from `trend`
    _store(engine, night(7, skipped=True))
    assert latest_run_ids(engine) == {"sim": tonight.info.run_id}


def test_interrupted_runs_are_recorded(engine: Engine) -> None:
    n = night(0, interrupted=True)
    store_run(engine, n.info, n.tests[:2], n.measurements, n.verdicts, interrupted=True)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT interrupted, tests_executed FROM runs")).one()
    assert (bool(row[0]), row[1]) == (True, 2)


def _answers(engine: Engine, nights: list[Night]) -> dict[str, object]:
    """Everything `trend` and the nightly comparison derive from the database."""
    for n in nights:
        _store(engine, n)
    return {
        "comparisons": {
            n.info.run_id: [asdict(f) for f in compare_with_history(engine, n.info.run_id).findings]
            for n in nights
        },
        "earlier": {n.info.run_id: compare_with_history(engine, n.info.run_id).earlier_runs for n in nights},
        "series": [
            (
                s.name,
                s.conditions,
                s.unit,
                [(p.run_id, p.values, p.limits) for p in s.points],
                s.latest_drift(),
            )
            for s in measurement_series(engine)
        ],
        "latest": latest_run_ids(engine),
    }


def test_trends_and_drift_give_the_same_answers_on_sqlite_and_postgresql(pg_url: str, tmp_path: Path) -> None:
    nights = [night(day) for day in range(8)]
    nights += [night(8, rig="lab2"), night(9, skipped=True)]
    nights += [night(10, current_scale=1.08, fail_led=True, slow_s=6.0)]  # drift, new failure, slower
    answers = []
    for url in (f"sqlite:///{tmp_path / 'results.sqlite'}", pg_url):
        engine = open_db(url)
        try:
            answers.append(_answers(engine, nights))
        finally:
            engine.dispose()
    sqlite, postgresql = answers
    kinds = {f["kind"] for f in sqlite["comparisons"][nights[-1].info.run_id]}  # type: ignore[index]
    assert kinds == {"drift", "new_failure", "slower"}  # the comparison is not vacuous
    assert sqlite == postgresql
