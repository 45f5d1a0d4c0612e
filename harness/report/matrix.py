"""Requirement traceability: requirement -> tests -> verdict, computed from the run's evidence.

Pure functions over evidence records. A requirement's verdict follows the worst evidence that cites it:
a failed or erroring test, or a measurement outside its limits, fails it; a measurement inside its
uncertainty band makes it inconclusive; tests that all skipped leave it not verified (the rig could not
run them); no citing test at all leaves it not covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from harness.evidence import Measurement, Requirement, TestResult

RequirementVerdict = Literal["fail", "inconclusive", "not verified", "pass", "not covered"]

#: failures first, then what a reviewer must still look at, then passes
VERDICT_ORDER: dict[str, int] = {"fail": 0, "inconclusive": 1, "not verified": 2, "pass": 3, "not covered": 4}


@dataclass(frozen=True)
class RequirementRow:
    id: str
    requirement: Requirement | None  #: None when a test cites an id the catalogue does not hold
    tests: tuple[TestResult, ...]
    measurements: tuple[Measurement, ...]
    verdict: RequirementVerdict
    reason: str


@dataclass
class Matrix:
    rows: list[RequirementRow] = field(default_factory=list)  #: covered requirements, failures first
    uncovered: list[Requirement] = field(default_factory=list)  #: testable, cited by no test
    external: list[Requirement] = field(default_factory=list)  #: verified by another lab's evidence
    untraced_tests: list[TestResult] = field(default_factory=list)  #: tests citing no requirement
    unknown_ids: list[str] = field(default_factory=list)  #: cited ids missing from the catalogue

    def count(self, verdict: str) -> int:
        if verdict == "not covered":
            return len(self.uncovered)
        return sum(1 for r in self.rows if r.verdict == verdict)

    def verdict_of(self, requirement_id: str) -> RequirementVerdict:
        for row in self.rows:
            if row.id == requirement_id:
                return row.verdict
        return "not covered"


def requirement_verdict(
    tests: Iterable[TestResult], measurements: Iterable[Measurement]
) -> tuple[RequirementVerdict, str]:
    """Verdict of one requirement from the tests and measurements that cite it, with the reason."""
    tests = list(tests)
    measurements = list(measurements)
    if not tests and not measurements:
        return "not covered", "no test cites this requirement"
    bad_tests = [t for t in tests if t.outcome in ("failed", "error")]
    bad_meas = [m for m in measurements if m.verdict == "fail"]
    if bad_tests or bad_meas:
        parts = []
        if bad_tests:
            parts.append(f"{len(bad_tests)} test(s) {'/'.join(sorted({t.outcome for t in bad_tests}))}")
        if bad_meas:
            parts.append(f"{len(bad_meas)} measurement(s) outside limits")
        return "fail", "; ".join(parts)
    unsure = [m for m in measurements if m.verdict == "inconclusive"]
    if unsure:
        return "inconclusive", f"{len(unsure)} measurement(s) within the uncertainty band of a limit"
    if any(t.outcome == "passed" for t in tests) or (measurements and not tests):
        return "pass", f"{sum(1 for t in tests if t.outcome == 'passed')} test(s) passed"
    return "not verified", "every citing test was skipped (the rig cannot run it)"


def build_matrix(
    requirements: Iterable[Requirement], tests: Iterable[TestResult], measurements: Iterable[Measurement]
) -> Matrix:
    """The requirement matrix of a run, rows sorted failures first, then by id."""
    catalogue = {r.id: r for r in requirements}
    tests = list(tests)
    measurements = list(measurements)
    cited: dict[str, list[TestResult]] = {}
    for t in tests:
        for rid in dict.fromkeys(t.requirements):
            cited.setdefault(rid, []).append(t)
    measured: dict[str, list[Measurement]] = {}
    by_test = {t.nodeid: t.requirements for t in tests}
    for m in measurements:
        # a measurement that names no requirement counts for every requirement its test cites
        for rid in [m.requirement] if m.requirement else by_test.get(m.test, []):
            measured.setdefault(rid, []).append(m)
    matrix = Matrix()
    for rid in sorted(set(cited) | set(measured)):
        verdict, reason = requirement_verdict(cited.get(rid, ()), measured.get(rid, ()))
        matrix.rows.append(
            RequirementRow(
                rid,
                catalogue.get(rid),
                tuple(cited.get(rid, ())),
                tuple(measured.get(rid, ())),
                verdict,
                reason,
            )
        )
        if rid not in catalogue:
            matrix.unknown_ids.append(rid)
    matrix.rows.sort(key=lambda r: (VERDICT_ORDER[r.verdict], r.id))
    not_cited = [r for rid, r in catalogue.items() if rid not in cited and rid not in measured]
    # catalogue methods: "test" (this harness), "external" (e.g. EMC lab report), "retired" (kept for history)
    matrix.uncovered = [r for r in not_cited if r.method not in ("external", "retired")]
    matrix.external = [r for r in not_cited if r.method == "external"]
    matrix.untraced_tests = [t for t in tests if not t.requirements]
    return matrix


def run_verdict(matrix: Matrix, tests: Iterable[TestResult]) -> Literal["pass", "fail", "incomplete"]:
    """Overall verdict when the run record carries none: any failure fails the run; a run with nothing
    that passed, or with inconclusive evidence, is incomplete."""
    tests = list(tests)
    if matrix.count("fail") or any(t.outcome in ("failed", "error") for t in tests):
        return "fail"
    if matrix.count("inconclusive") or not any(t.outcome == "passed" for t in tests):
        return "incomplete"
    return "pass"
