"""Results database schema (SQLAlchemy 2.0 ORM): runs, test results, measurements, requirement verdicts
and the append-only seal history of every run folder.

The same models serve the embedded SQLite file under reports/ and a lab's PostgreSQL. Rows carry the
evidence records of :mod:`harness.evidence` flattened to columns a lab can query directly. The schema
changes only through the Alembic revisions in :mod:`harness.results.migrations` (the self-tests check
that the revisions build exactly these models).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(120), unique=True)
    rig: Mapped[str] = mapped_column(String(120), index=True)
    rig_file: Mapped[str] = mapped_column(String(500))
    simulated: Mapped[bool] = mapped_column(Boolean)
    faults: Mapped[str] = mapped_column(Text, default="")  #: comma-separated seeded faults (simulated rigs)
    instruments_json: Mapped[str] = mapped_column(Text, default="[]")
    started: Mapped[str] = mapped_column(String(40), index=True)  #: ISO 8601, sorts chronologically
    finished: Mapped[str | None] = mapped_column(String(40))
    duration_s: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(20))
    nightly: Mapped[bool] = mapped_column(Boolean, default=False)
    dut_id: Mapped[str | None] = mapped_column(String(40))
    dut_manufacturer: Mapped[str | None] = mapped_column(String(10))
    dut_version: Mapped[int | None] = mapped_column(Integer)
    dut_medium: Mapped[int | None] = mapped_column(Integer)
    dut_firmware: Mapped[str | None] = mapped_column(String(80))
    harness_version: Mapped[str] = mapped_column(String(40))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(120))
    run_dir: Mapped[str | None] = mapped_column(String(500))
    #: the run was stopped by a signal (run.json ``interrupted``); its tests that ran are kept
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: tests that executed (passed, failed or errored; skipped ones did not touch the bench)
    tests_executed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    tests: Mapped[list[TestRow]] = relationship(back_populates="run", cascade="all, delete-orphan")
    measurements: Mapped[list[MeasurementRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )
    requirements: Mapped[list[RequirementRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )


class TestRow(Base):
    __tablename__ = "test_results"
    __test__ = False  # not a pytest class

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.pk", ondelete="CASCADE"), index=True)
    nodeid: Mapped[str] = mapped_column(String(500), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    duration_s: Mapped[float] = mapped_column(Float)
    requirements: Mapped[str] = mapped_column(Text, default="")  #: comma-separated ids
    message: Mapped[str | None] = mapped_column(Text)

    run: Mapped[RunRow] = relationship(back_populates="tests")


class MeasurementRow(Base):
    __tablename__ = "measurements"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.pk", ondelete="CASCADE"), index=True)
    test: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(120))
    conditions: Mapped[str] = mapped_column(String(500), default="{}")  #: canonical JSON, the series key
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[str] = mapped_column(String(20))
    requirement: Mapped[str | None] = mapped_column(String(80))
    timestamp: Mapped[str] = mapped_column(String(40))

    run: Mapped[RunRow] = relationship(back_populates="measurements")

    __table_args__ = (Index("ix_measurements_series", "name", "conditions"),)


class RequirementRow(Base):
    __tablename__ = "requirement_verdicts"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.pk", ondelete="CASCADE"), index=True)
    requirement: Mapped[str] = mapped_column(String(80), index=True)
    verdict: Mapped[str] = mapped_column(String(20))
    tests: Mapped[str] = mapped_column(Text, default="")  #: comma-separated node ids

    run: Mapped[RunRow] = relationship(back_populates="requirements")


class SealRow(Base):
    """One seal of a run folder: the manifest.json written then, its SHA-256, when, by whom and why.

    Append-only: the database refuses UPDATE and DELETE on this table (triggers of the Alembic revision
    that created it), so a re-seal adds a row and the first seal stays the reference ``cmi-hil verify``
    checks the folder against.
    """

    __tablename__ = "seals"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.pk"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  #: 1 = the original seal
    sealed_at: Mapped[str] = mapped_column(String(40))  #: ISO 8601, UTC
    sealed_by: Mapped[str | None] = mapped_column(String(200))  #: user@host
    reason: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    #: the manifest.json text itself (None for a digest recorded by release 0.1.0, before the history)
    manifest_json: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("run_pk", "seq", name="uq_seals_run_seq"),)
