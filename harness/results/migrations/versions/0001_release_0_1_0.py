"""Schema of release 0.1.0: runs, test results, measurements, requirement verdicts.

A frozen copy of that release's tables (tests/data/results-db-0.1.0.sql is the DDL it wrote). A
database made by 0.1.0 has these tables but no ``alembic_version``: this revision then adopts them
instead of creating them (and adds ``runs.manifest_sha256``, which 0.1.0 itself added to databases
older than it), so the revisions after it upgrade such a database like any other.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(120), nullable=False),
        sa.Column("rig", sa.String(120), nullable=False),
        sa.Column("rig_file", sa.String(500), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("faults", sa.Text(), nullable=False),
        sa.Column("instruments_json", sa.Text(), nullable=False),
        sa.Column("started", sa.String(40), nullable=False),
        sa.Column("finished", sa.String(40), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("nightly", sa.Boolean(), nullable=False),
        sa.Column("dut_id", sa.String(40), nullable=True),
        sa.Column("dut_manufacturer", sa.String(10), nullable=True),
        sa.Column("dut_version", sa.Integer(), nullable=True),
        sa.Column("dut_medium", sa.Integer(), nullable=True),
        sa.Column("dut_firmware", sa.String(80), nullable=True),
        sa.Column("harness_version", sa.String(40), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(120), nullable=True),
        sa.Column("run_dir", sa.String(500), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("run_id"),
    )
    op.create_index("ix_runs_rig", "runs", ["rig"])
    op.create_index("ix_runs_started", "runs", ["started"])


def _test_results() -> None:
    op.create_table(
        "test_results",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("nodeid", sa.String(500), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_test_results_nodeid", "test_results", ["nodeid"])
    op.create_index("ix_test_results_run_pk", "test_results", ["run_pk"])


def _measurements() -> None:
    op.create_table(
        "measurements",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("test", sa.String(500), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("conditions", sa.String(500), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("requirement", sa.String(80), nullable=True),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_measurements_run_pk", "measurements", ["run_pk"])
    op.create_index("ix_measurements_series", "measurements", ["name", "conditions"])


def _requirement_verdicts() -> None:
    op.create_table(
        "requirement_verdicts",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("requirement", sa.String(80), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("tests", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_requirement_verdicts_requirement", "requirement_verdicts", ["requirement"])
    op.create_index("ix_requirement_verdicts_run_pk", "requirement_verdicts", ["run_pk"])


TABLES = {
    "runs": _runs,
    "test_results": _test_results,
    "measurements": _measurements,
    "requirement_verdicts": _requirement_verdicts,
}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():  # parents first
        if name not in present:
            create()
    if "runs" in present:
        columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
        if "manifest_sha256" not in columns:
            op.add_column("runs", sa.Column("manifest_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.drop_table(name)
