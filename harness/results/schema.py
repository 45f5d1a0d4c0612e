"""Results database schema (SQLAlchemy 2.0 ORM): runs, test results, measurements, requirement verdicts.

Any SQLAlchemy URL works (a lab's PostgreSQL, or the default SQLite file under reports/). Rows carry
the evidence records of :mod:`harness.evidence` flattened to columns a lab can query directly.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
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
    #: SHA-256 of the run folder's manifest.json when it was sealed: re-sealing an altered folder shows
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))

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
