"""Append-only seal history; runs record whether they were interrupted and how many tests executed.

- ``seals``: every seal of a run folder (manifest.json text and SHA-256, time, user@host, reason).
  UPDATE and DELETE are refused by triggers (SQLite, PostgreSQL), so a re-seal can only add a row and
  the original seal stays the reference. The digest release 0.1.0 kept in ``runs.manifest_sha256``
  (overwritten by every re-seal) becomes seal 1 of its run, and the column goes.
- ``runs.interrupted`` (run.json ``interrupted``) and ``runs.tests_executed`` (tests passed, failed or
  errored), so trend queries can leave out runs that executed no test (issue 11: such runs, including
  runs refused before touching the bench, are no baseline).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "seals are append-only: a re-seal adds a row, no seal is changed or removed"
LEGACY_REASON = "digest recorded by release 0.1.0 (its last seal; time approximated by the run's finish)"

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER seals_append_only_{event.lower()} BEFORE {event} ON seals "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    for event in ("UPDATE", "DELETE")
]
_PG_TRIGGERS = [
    "CREATE FUNCTION seals_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$",
    "CREATE TRIGGER seals_append_only BEFORE UPDATE OR DELETE ON seals "
    "FOR EACH ROW EXECUTE FUNCTION seals_append_only()",
    "CREATE TRIGGER seals_append_only_truncate BEFORE TRUNCATE ON seals "
    "FOR EACH STATEMENT EXECUTE FUNCTION seals_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sealed_at", sa.String(40), nullable=False),
        sa.Column("sealed_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"]),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("run_pk", "seq", name="uq_seals_run_seq"),
    )
    op.create_index("ix_seals_run_pk", "seals", ["run_pk"])
    runs = sa.table(
        "runs",
        sa.column("pk", sa.Integer()),
        sa.column("started", sa.String()),
        sa.column("finished", sa.String()),
        sa.column("manifest_sha256", sa.String()),
    )
    seals = sa.table(
        "seals",
        sa.column("run_pk", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("sealed_at", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("manifest_sha256", sa.String()),
    )
    op.execute(
        seals.insert().from_select(
            ["run_pk", "seq", "sealed_at", "reason", "manifest_sha256"],
            sa.select(
                runs.c.pk,
                sa.literal(1),
                sa.func.coalesce(runs.c.finished, runs.c.started),
                sa.literal(LEGACY_REASON),
                runs.c.manifest_sha256,
            ).where(runs.c.manifest_sha256.is_not(None)),
        )
    )
    op.drop_column("runs", "manifest_sha256")

    op.add_column("runs", sa.Column("interrupted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("runs", sa.Column("tests_executed", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE runs SET tests_executed = (SELECT COUNT(*) FROM test_results t "
        "WHERE t.run_pk = runs.pk AND t.outcome IN ('passed', 'failed', 'error'))"
    )

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _PG_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS seals_append_only_{event}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS seals_append_only ON seals")
        op.execute("DROP TRIGGER IF EXISTS seals_append_only_truncate ON seals")
        op.execute("DROP FUNCTION IF EXISTS seals_append_only()")
    op.drop_column("runs", "tests_executed")
    op.drop_column("runs", "interrupted")
    op.add_column("runs", sa.Column("manifest_sha256", sa.String(64), nullable=True))
    op.execute(  # 0.1.0 kept one digest per run, the latest
        "UPDATE runs SET manifest_sha256 = (SELECT s.manifest_sha256 FROM seals s WHERE s.run_pk = runs.pk "
        "ORDER BY s.seq DESC LIMIT 1)"
    )
    op.drop_index("ix_seals_run_pk", table_name="seals")
    op.drop_table("seals")
