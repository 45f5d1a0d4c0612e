"""Alembic: a database made by release 0.1.0 upgrades and keeps its runs; the revisions go both ways;
a database upgraded by a newer harness is refused clearly."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from results_history import night
from sqlalchemy import Engine, create_engine, text

from harness.results import ResultsDbError, compare_with_history, open_db, seal_history
from harness.results.migrate import current_revision, head_revision, upgrade

FIXTURE = Path(__file__).parents[1] / "data" / "results-db-0.1.0.sqlite"
LEGACY_RUNS = ["20261120-020000-sim", "20261121-020000-sim", "20261122-020000-sim", "20261123-020000-sim"]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = ("runs", "test_results", "measurements", "requirement_verdicts")
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_a_database_made_by_release_0_1_0_upgrades_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    shutil.copy(FIXTURE, db)
    with sqlite3.connect(db) as conn:
        before = _counts(conn)
        digests = dict(conn.execute("SELECT run_id, manifest_sha256 FROM runs"))
    assert before["runs"] == 4 and all(digests.values())
    engine = open_db(db)
    try:
        assert current_revision(engine) == head_revision()
        with sqlite3.connect(db) as conn:
            assert _counts(conn) == before
            columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
            executed = dict(conn.execute("SELECT run_id, tests_executed FROM runs"))
        assert "manifest_sha256" not in columns and {"interrupted", "tests_executed"} <= columns
        assert executed == dict.fromkeys(LEGACY_RUNS, 10)
        for run_id in LEGACY_RUNS:  # 0.1.0's digest becomes the run's first seal
            (first,) = seal_history(engine, run_id) or []
            assert first.seq == 1 and first.manifest_sha256 == digests[run_id] and first.manifest_json is None
        finding = compare_with_history(engine, LEGACY_RUNS[2]).findings  # the history still compares
        assert [(f.kind, f.subject) for f in finding] == [("new_failure", "UI-LED")]
        n = night(30)  # and the upgraded database takes new runs
        from harness.results import store_run

        store_run(engine, n.info, n.tests, n.measurements, n.verdicts)
    finally:
        engine.dispose()
    engine = open_db(db)  # opening it again is a no-op
    engine.dispose()


def test_a_release_0_1_0_database_on_postgresql_upgrades(pg_url: str) -> None:
    from harness.results.store import db_url_for

    engine = create_engine(db_url_for(pg_url))
    try:
        upgrade(engine, "0001")  # the 0.1.0 tables exactly...
        with engine.begin() as conn:  # ...without alembic_version, as 0.1.0 left them
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(
                text(
                    "INSERT INTO runs (run_id, rig, rig_file, simulated, faults, instruments_json, started,"
                    " nightly, harness_version, manifest_sha256) VALUES ('r1', 'sim', 'rigs/sim.yaml', true,"
                    " '', '[]', '2026-11-20T02:00:00+00:00', false, '0.1.0', :digest)"
                ),
                {"digest": "ab" * 32},
            )
            conn.execute(
                text(
                    "INSERT INTO test_results (run_pk, nodeid, outcome, duration_s, requirements)"
                    " SELECT pk, 't::a', 'passed', 1.0, '' FROM runs"
                )
            )
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    engine = open_db(pg_url)
    try:
        assert current_revision(engine) == head_revision()
        (first,) = seal_history(engine, "r1") or []
        assert first.manifest_sha256 == "ab" * 32
        with engine.connect() as conn:
            assert conn.execute(text("SELECT tests_executed FROM runs")).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_revisions_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    shutil.copy(FIXTURE, db)
    engine: Engine = open_db(db)
    try:
        from alembic import command

        from harness.results.migrate import _config

        with engine.connect() as conn:
            command.downgrade(_config(conn), "0001")
            conn.commit()
        with sqlite3.connect(db) as conn:  # back to 0.1.0's layout, with its digests
            assert dict(
                conn.execute("SELECT run_id, manifest_sha256 IS NOT NULL FROM runs")
            ) == dict.fromkeys(LEGACY_RUNS, 1)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert len(seal_history(engine, LEGACY_RUNS[0]) or []) == 1
    finally:
        engine.dispose()


def test_a_database_upgraded_by_a_newer_harness_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    open_db(db).dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(ResultsDbError, match="revision '9999'.*newer cmi-hil upgraded it"):
        open_db(db)


def test_verify_mode_does_not_create_a_database(tmp_path: Path) -> None:
    with pytest.raises(ResultsDbError, match="holds no results tables"):
        open_db(tmp_path / "empty.sqlite", create=False)
