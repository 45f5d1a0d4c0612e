"""Requirement traceability: requirement -> tests -> verdict, computed from the run's evidence.

Pure functions over evidence records. Every verdict comes from :mod:`harness.verdict` (the one rule); this
module only arranges it for the report: rows worst first, requirements no test cites, requirements
verified elsewhere, tests that cite nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness import verdict as rule
from harness.evidence import Measurement, Requirement, TestResult
from harness.verdict import REQUIREMENT_CLASSES, RequirementClass, RunDecision, group_evidence

RequirementVerdict = RequirementClass

#: worst first: what fails, what the bench stopped, what a reviewer must still look at, then passes
VERDICT_ORDER: dict[str, int] = {c: i for i, c in enumerate(REQUIREMENT_CLASSES)}


@dataclass(frozen=True)
class RequirementRow:
    id: str
    requirement: Requirement | None  #: None when a test cites an id the catalogue does not hold
    tests: tuple[TestResult, ...]
    measurements: tuple[Measurement, ...]
    verdict: RequirementVerdict
    reason: str

    @property
    def label(self) -> str:
        return rule.CLASS_LABELS[self.verdict]


@dataclass
class Matrix:
    rows: list[RequirementRow] = field(default_factory=list)  #: covered requirements, worst first
    uncovered: list[Requirement] = field(default_factory=list)  #: testable, cited by no test
    external: list[Requirement] = field(default_factory=list)  #: verified by another lab's evidence
    untraced_tests: list[TestResult] = field(default_factory=list)  #: tests citing no requirement
    unknown_ids: list[str] = field(default_factory=list)  #: cited ids missing from the catalogue

    def count(self, verdict: str) -> int:
        if verdict == "not covered":
            return len(self.uncovered)
        if verdict == "external":
            return len(self.external)
        return sum(1 for r in self.rows if r.verdict == verdict)

    def verdict_of(self, requirement_id: str) -> RequirementVerdict:
        for row in self.rows:
            if row.id == requirement_id:
                return row.verdict
        if any(r.id == requirement_id for r in self.external):
            return "external"
        return "not covered"

    def classes(self) -> dict[str, str]:
        """Requirement id -> class, for every requirement of the run (what the database stores)."""
        out: dict[str, str] = {row.id: row.verdict for row in self.rows}
        out.update({r.id: "not covered" for r in self.uncovered})
        out.update({r.id: "external" for r in self.external})
        return out


def requirement_verdict(
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement],
    requirement: Requirement | None = None,
    *,
    simulated_bench: bool = True,
) -> tuple[RequirementVerdict, str]:
    """Verdict of one requirement from the tests and measurements that cite it, with the reason."""
    return rule.requirement_verdict(requirement, tests, measurements, simulated_bench=simulated_bench)


def build_matrix(
    requirements: Iterable[Requirement],
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement],
    *,
    simulated_bench: bool = True,
) -> Matrix:
    """The requirement matrix of a run, rows sorted worst first, then by id."""
    catalogue = {r.id: r for r in requirements}
    tests = list(tests)
    cited, measured = group_evidence(tests, measurements)
    matrix = Matrix()
    for rid in sorted(set(cited) | set(measured)):
        req = catalogue.get(rid)
        verdict, reason = rule.requirement_verdict(
            req, cited.get(rid, ()), measured.get(rid, ()), simulated_bench=simulated_bench
        )
        matrix.rows.append(
            RequirementRow(rid, req, tuple(cited.get(rid, ())), tuple(measured.get(rid, ())), verdict, reason)
        )
        if req is None:
            matrix.unknown_ids.append(rid)
    matrix.rows.sort(key=lambda r: (VERDICT_ORDER[r.verdict], r.id))
    not_cited = [r for rid, r in catalogue.items() if rid not in cited and rid not in measured]
    # catalogue methods: "test" (this harness), "external" (e.g. EMC lab report), "retired" (kept for history)
    matrix.uncovered = [r for r in not_cited if r.method not in ("external", "retired")]
    matrix.external = [r for r in not_cited if r.method == "external"]
    matrix.untraced_tests = [t for t in tests if not t.requirements]
    return matrix


def run_verdict(
    matrix: Matrix,
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement] = (),
    *,
    interrupted: bool = False,
) -> RunDecision:
    """The run's verdict by the one rule (:func:`harness.verdict.run_verdict`) from its matrix."""
    return rule.run_verdict(matrix.classes(), tests, measurements, interrupted=interrupted)
