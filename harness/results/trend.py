"""Nightly regression and drift: compare a run with earlier runs on the same rig.

A measurement drifted when the run's value (median of its samples in the run) lies further from the
usual value than ``k`` robust standard deviations of the earlier runs' samples (median +- k * 1.4826 * MAD,
with a floor of the stated uncertainty and a small fraction of the value, so a perfectly repeatable
simulated bench does not flag noise). A requirement is newly failing when it fails now and did not in
the last earlier run that gave it a verdict. A test got slower when it took markedly longer than its
usual duration (ratio and absolute floor both exceeded).

Only baseline runs are history: a run that executed no test (every test skipped, or refused before
touching the bench) tells nothing about the module and is left out (issue 11, see :func:`baseline`).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session

from harness.results.schema import MeasurementRow, RequirementRow, RunRow, TestRow

MAD_TO_SIGMA = 1.4826  #: MAD of a normal distribution times this is its standard deviation


def baseline() -> ColumnElement[bool]:
    """Runs that count as history for trends and drift: those that executed at least one test.

    A run refused before touching the bench (rig lock held, overdue calibration, bad rig file) or whose
    tests were all skipped executed none; its absent measurements and "not covered" verdicts must not
    fill the comparison window nor be "the last earlier run" of a requirement (issue 11).
    """
    return RunRow.tests_executed > 0


@dataclass(frozen=True)
class TrendPolicy:
    k: float = 4.0  #: drift threshold in robust standard deviations
    window_runs: int = 20  #: earlier runs compared with
    min_runs: int = 3  #: earlier runs needed before a series is judged
    rel_floor: float = 0.01  #: spread never below this fraction of the usual value
    slower_factor: float = 1.5  #: a test is slower when it takes this many times its usual duration...
    slower_min_delta_s: float = 1.0  #: ...and at least this much longer


@dataclass(frozen=True)
class Finding:
    """A regression found by comparing a run with earlier runs on the same rig."""

    kind: str  #: "drift", "new_failure", "slower"
    subject: str
    detail: str


def series_key(name: str, conditions: str) -> tuple[str, str]:
    """A measurement series: its name and set-point conditions (supply_v, polarity, baud, input...).

    Conditions named ``*_s`` / ``*_ms`` are durations observed alongside the value (a read-out time, an
    interval) and differ every run, so they are not part of the series' identity.
    """
    try:
        data = json.loads(conditions)
    except json.JSONDecodeError:
        return name, conditions
    if not isinstance(data, dict):
        return name, conditions
    kept = {k: v for k, v in data.items() if not k.endswith(("_s", "_ms"))}
    return name, json.dumps(kept, sort_keys=True, separators=(",", ":"))


def moving_reference(limits: Sequence[tuple[float | None, float | None]]) -> bool:
    """True when both limits move from run to run (a value checked against a reference that changes,
    such as a register against the meter's own reading): drift is then judged on the deviation from the
    centre of the limits, not on the raw value."""
    lows = {lo for lo, _ in limits}
    highs = {hi for _, hi in limits}
    return None not in lows and None not in highs and len(lows) > 1 and len(highs) > 1


def _drift_value(row: MeasurementRow, relative: bool) -> float:
    value = row.value if row.value is not None else math.nan
    if relative and row.low is not None and row.high is not None:
        return value - (row.low + row.high) / 2
    return value


def conditions_label(key: str) -> str:
    """``{"baud":2400}`` (a stored series key) -> ``baud=2400``."""
    try:
        data = json.loads(key)
    except json.JSONDecodeError:
        return key
    return ", ".join(f"{k}={v}" for k, v in data.items()) if isinstance(data, dict) else key


@dataclass(frozen=True)
class Spread:
    median: float
    sigma: float  #: robust standard deviation used for the threshold (floors applied)


def robust_spread(values: Sequence[float], *, uncertainty: float = 0.0, rel_floor: float = 0.01) -> Spread:
    """Median and robust standard deviation (1.4826 * MAD) of ``values``, floored by the measurement's
    uncertainty and ``rel_floor`` of the median."""
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    return Spread(med, max(MAD_TO_SIGMA * mad, uncertainty, rel_floor * abs(med), 1e-12))


def drifted(
    history: Sequence[float], value: float, *, uncertainty: float = 0.0, policy: TrendPolicy = TrendPolicy()
) -> tuple[bool, Spread]:
    """Whether ``value`` lies beyond median +- k * sigma of ``history``."""
    spread = robust_spread(history, uncertainty=uncertainty, rel_floor=policy.rel_floor)
    return abs(value - spread.median) > policy.k * spread.sigma, spread


def slower(history_s: Sequence[float], duration_s: float, *, policy: TrendPolicy = TrendPolicy()) -> bool:
    """Whether a test duration is markedly above its usual duration."""
    spread = robust_spread(history_s, rel_floor=policy.rel_floor)
    return (
        duration_s > spread.median * policy.slower_factor
        and duration_s - spread.median > policy.slower_min_delta_s
        and duration_s > spread.median + policy.k * spread.sigma
    )


def _fmt(value: float, unit: str) -> str:
    from harness.si import si

    return si(value, unit)


@dataclass
class Comparison:
    run_id: str
    rig: str
    earlier_runs: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def note(self) -> str:
        if not self.earlier_runs:
            return (
                f"No earlier runs on rig {self.rig} with the same seeded faults: nothing to compare with yet."
            )
        return (
            f"Compared with {len(self.earlier_runs)} earlier run(s) on rig {self.rig} "
            f"({self.earlier_runs[-1]} .. {self.earlier_runs[0]}): "
            + (f"{len(self.findings)} regression finding(s)." if self.findings else "no regression.")
        )


def compare_with_history(engine: Engine, run_id: str, *, policy: TrendPolicy = TrendPolicy()) -> Comparison:
    """Findings for ``run_id`` against up to ``policy.window_runs`` earlier runs on the same rig with the
    same seeded faults (a clean run is compared with clean runs only)."""
    with Session(engine) as session:
        run = session.scalar(select(RunRow).where(RunRow.run_id == run_id))
        if run is None:
            raise LookupError(f"run {run_id!r} is not in the results database")
        earlier = list(
            session.scalars(
                select(RunRow)
                .where(
                    RunRow.rig == run.rig,
                    RunRow.faults == run.faults,
                    RunRow.started < run.started,
                    RunRow.pk != run.pk,
                    baseline(),
                )
                .order_by(RunRow.started.desc())
                .limit(policy.window_runs)
            )
        )
        comparison = Comparison(run_id, run.rig, [r.run_id for r in earlier])
        if not earlier:
            return comparison
        pks = [r.pk for r in earlier]
        order = {r.pk: i for i, r in enumerate(earlier)}  # 0 = most recent
        findings = comparison.findings

        # newly failing requirements
        last_verdict: dict[str, tuple[int, str, str]] = {}
        for req in session.scalars(select(RequirementRow).where(RequirementRow.run_pk.in_(pks))):
            if req.verdict not in ("pass", "fail", "inconclusive"):
                continue
            seen = last_verdict.get(req.requirement)
            if seen is None or order[req.run_pk] < seen[0]:
                last_verdict[req.requirement] = (
                    order[req.run_pk],
                    req.verdict,
                    earlier[order[req.run_pk]].run_id,
                )
        for req in sorted(run.requirements, key=lambda r: r.requirement):
            if req.verdict != "fail":
                continue
            seen = last_verdict.get(req.requirement)
            if seen is None:
                findings.append(
                    Finding(
                        "new_failure",
                        req.requirement,
                        f"fails now; no earlier run on this rig gave it a verdict (tests: {req.tests})",
                    )
                )
            elif seen[1] != "fail":
                findings.append(
                    Finding(
                        "new_failure",
                        req.requirement,
                        f"fails now; was {seen[1]} in {seen[2]} (tests: {req.tests})",
                    )
                )

        # measurement drift, per series (name + set-point conditions)
        history: dict[tuple[str, str], list[MeasurementRow]] = {}
        for m in session.scalars(select(MeasurementRow).where(MeasurementRow.run_pk.in_(pks))):
            if m.value is not None:
                history.setdefault(series_key(m.name, m.conditions), []).append(m)
        current: dict[tuple[str, str], list[MeasurementRow]] = {}
        for m in run.measurements:
            if m.value is not None:
                current.setdefault(series_key(m.name, m.conditions), []).append(m)
        for key, rows in sorted(current.items()):
            past = history.get(key, [])
            n_runs = len({r.run_pk for r in past})
            if n_runs < policy.min_runs:
                continue
            relative = moving_reference([(r.low, r.high) for r in past + rows])
            value = statistics.median(_drift_value(r, relative) for r in rows)
            flag, spread = drifted(
                [_drift_value(r, relative) for r in past],
                value,
                uncertainty=max(r.uncertainty for r in rows),
                policy=policy,
            )
            if flag:
                unit = rows[0].unit
                conds = conditions_label(key[1])
                what = "deviation from the centre of its limits " if relative else ""
                findings.append(
                    Finding(
                        "drift",
                        f"{key[0]} [{conds}]" if conds else key[0],
                        f"{what}{_fmt(value, unit)} (median of {len(rows)} sample(s)) vs usual "
                        f"{_fmt(spread.median, unit)} over {n_runs} earlier run(s): moved "
                        f"{abs(value - spread.median) / spread.sigma:.1f} sigma (robust sigma "
                        f"{_fmt(spread.sigma, unit)}), threshold {policy.k:g} sigma",
                    )
                )

        # slower tests
        durations: dict[str, list[float]] = {}
        for t in session.scalars(
            select(TestRow).where(TestRow.run_pk.in_(pks), TestRow.outcome != "skipped")
        ):
            durations.setdefault(t.nodeid, []).append(t.duration_s)
        for t in sorted(run.tests, key=lambda t: t.nodeid):
            past_s = durations.get(t.nodeid, [])
            if t.outcome == "skipped" or len(past_s) < policy.min_runs:
                continue
            if slower(past_s, t.duration_s, policy=policy):
                findings.append(
                    Finding(
                        "slower",
                        t.nodeid,
                        f"took {t.duration_s:.2f} s; usually "
                        f"{statistics.median(past_s):.2f} s over {len(past_s)} earlier run(s)",
                    )
                )
    return comparison


@dataclass
class SeriesPoint:
    run_id: str
    started: str
    rig: str
    values: list[float]
    verdicts: list[str]
    uncertainty: float = 0.0  #: largest stated uncertainty of the run's samples
    limits: list[tuple[float | None, float | None]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def drift_values(self, relative: bool) -> list[float]:
        if not relative:
            return self.values
        return [
            v - (lo + hi) / 2 if lo is not None and hi is not None else v
            for v, (lo, hi) in zip(self.values, self.limits, strict=True)
        ]


@dataclass
class Series:
    name: str
    conditions: str
    unit: str
    points: list[SeriesPoint] = field(default_factory=list)  #: oldest first

    def latest_drift(self, policy: TrendPolicy = TrendPolicy()) -> tuple[bool, Spread] | None:
        """Drift of the latest run against the earlier ones (None while there are too few)."""
        if len(self.points) < policy.min_runs + 1:
            return None
        earlier = self.points[-1 - policy.window_runs : -1]
        latest = self.points[-1]
        relative = self.relative()
        return drifted(
            [v for p in earlier for v in p.drift_values(relative)],
            statistics.median(latest.drift_values(relative)),
            uncertainty=latest.uncertainty,
            policy=policy,
        )

    def relative(self) -> bool:
        """Drift is judged on the deviation from the centre of the limits (see :func:`moving_reference`)."""
        return moving_reference([lim for p in self.points for lim in p.limits])


def measurement_series(
    engine: Engine, *, rig: str | None = None, name: str | None = None, include_faulted: bool = False
) -> list[Series]:
    """History of every measurement series (name + conditions) across runs, oldest run first."""
    query = (
        select(MeasurementRow, RunRow)
        .join(RunRow, MeasurementRow.run_pk == RunRow.pk)
        .where(baseline())
        .order_by(RunRow.started, MeasurementRow.pk)
    )
    if rig is not None:
        query = query.where(RunRow.rig == rig)
    if name is not None:
        query = query.where(MeasurementRow.name == name)
    if not include_faulted:
        query = query.where(RunRow.faults == "")
    series: dict[tuple[str, str], Series] = {}
    with Session(engine) as session:
        for m, run in session.execute(query).all():
            if m.value is None:
                continue
            name, conditions = series_key(m.name, m.conditions)
            s = series.setdefault((name, conditions), Series(name, conditions, m.unit))
            if not s.points or s.points[-1].run_id != run.run_id:
                s.points.append(SeriesPoint(run.run_id, run.started, run.rig, [], []))
            s.points[-1].values.append(m.value)
            s.points[-1].verdicts.append(m.verdict)
            s.points[-1].uncertainty = max(s.points[-1].uncertainty, m.uncertainty)
            s.points[-1].limits.append((m.low, m.high))
    return sorted(series.values(), key=lambda s: (s.name, s.conditions))


def latest_run_ids(engine: Engine, *, rig: str | None = None) -> dict[str, str]:
    """rig -> id of its most recent baseline run without seeded faults."""
    with Session(engine) as session:
        query = (
            select(RunRow.rig, RunRow.run_id)
            .where(RunRow.faults == "", baseline())
            .order_by(RunRow.started, RunRow.pk)
        )
        if rig is not None:
            query = query.where(RunRow.rig == rig)
        return {r: run_id for r, run_id in session.execute(query).all()}
