"""The requirement catalogue: what the CMi1020 must do, as data (``harness/requirements.yaml``).

Each requirement has a stable id, a testable text, its source (a product-sheet row or an EN 13757
clause) and how it is verified (``test`` here, ``external`` evidence from another lab). Tests cite ids
with ``@pytest.mark.requirement(...)``; :func:`coverage` reports both directions of traceability.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.datafile import read_yaml_mapping
from harness.evidence import Measurement, Requirement, TestResult

CATALOGUE_PATH = Path(__file__).with_name("requirements.yaml")

Method = Literal["test", "external", "retired"]
Area = Literal[
    "power",
    "link",
    "addressing",
    "baud",
    "data",
    "rate-inputs",
    "user-interface",
    "robustness",
    "environment",
    "emc-safety",
]
Capability = Literal["supply", "supply_range", "polarity", "dmm", "ac_source", "mains", "button", "led"]
ID_PATTERN = re.compile(r"^[A-Z]{2,8}(-[A-Z0-9]+)+$")


class CatalogueError(ValueError):
    """The catalogue file is missing, is not YAML, or breaks the schema; the message says where and what."""


class RequirementEntry(BaseModel):
    """One row of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    area: Area
    text: str = Field(min_length=10)
    source: str = Field(min_length=5)
    method: Method
    needs: tuple[Capability, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"id {value!r} must look like AREA-TOPIC (upper case letters, digits, dashes)")
        return value

    def as_evidence(self) -> Requirement:
        """The record written to the run folder's requirements.json (harness.evidence.Requirement)."""
        return Requirement(id=self.id, text=self.text, source=self.source, method=self.method, area=self.area)


class Catalogue(BaseModel):
    """The whole catalogue; ids are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    requirements: tuple[RequirementEntry, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalogue:
        seen: set[str] = set()
        for entry in self.requirements:
            if entry.id in seen:
                raise ValueError(f"duplicate requirement id {entry.id!r}; ids must be unique")
            seen.add(entry.id)
        return self

    def by_id(self) -> dict[str, RequirementEntry]:
        return {r.id: r for r in self.requirements}

    def get(self, requirement_id: str) -> RequirementEntry:
        try:
            return self.by_id()[requirement_id]
        except KeyError:
            raise KeyError(
                f"unknown requirement id {requirement_id!r}; known ids are in {CATALOGUE_PATH.name}"
            ) from None

    def testable(self) -> list[RequirementEntry]:
        """Requirements this suite must cover with at least one test."""
        return [r for r in self.requirements if r.method == "test"]


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue (default: the shipped ``harness/requirements.yaml``)."""
    path = path or CATALOGUE_PATH
    raw = read_yaml_mapping(
        path, what="requirement catalogue", error=CatalogueError, hint="check the --requirements path"
    )
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogueError(f"{path}: invalid requirement catalogue: {problems}") from None


class Coverage(BaseModel):
    """Traceability both ways between a catalogue and the tests that ran or were collected."""

    tests_by_requirement: dict[str, list[str]]
    uncovered: list[str]  #: testable requirements no test cites
    untraced_tests: list[str]  #: tests that cite no requirement
    unknown_ids: dict[str, list[str]]  #: test -> ids it cites that the catalogue lacks
    external: list[str]  #: requirements verified by external evidence


def coverage(catalogue: Catalogue, cited: Mapping[str, Iterable[str]]) -> Coverage:
    """Compute traceability from ``cited`` (test node id -> requirement ids it cites). Pure."""
    known = catalogue.by_id()
    tests_by_req: dict[str, list[str]] = {r.id: [] for r in catalogue.requirements}
    untraced: list[str] = []
    unknown: dict[str, list[str]] = {}
    for test, ids in cited.items():
        ids = list(ids)
        if not ids:
            untraced.append(test)
        for rid in ids:
            if rid in known:
                tests_by_req[rid].append(test)
            else:
                unknown.setdefault(test, []).append(rid)
    return Coverage(
        tests_by_requirement=tests_by_req,
        uncovered=[r.id for r in catalogue.testable() if not tests_by_req[r.id]],
        untraced_tests=sorted(untraced),
        unknown_ids=unknown,
        external=[r.id for r in catalogue.requirements if r.method == "external"],
    )


RequirementOutcome = Literal["pass", "fail", "inconclusive", "not verified", "external", "retired"]


class RequirementVerdict(BaseModel):
    """Verdict of one requirement in a run, from the tests citing it and the measurements against it."""

    id: str
    verdict: RequirementOutcome
    source: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    tests: list[str] = Field(default_factory=list)


def requirement_verdicts(
    catalogue: Catalogue, results: Iterable[TestResult], measurements: Iterable[Measurement]
) -> dict[str, RequirementVerdict]:
    """Per requirement: fail if a citing test failed (or a measurement against it failed), not verified if
    no citing test ran, inconclusive if a measurement against it was, else pass. Pure."""
    out = {
        r.id: RequirementVerdict(
            id=r.id,
            source=r.source,
            verdict="external"
            if r.method == "external"
            else "retired"
            if r.method == "retired"
            else "not verified",
        )
        for r in catalogue.requirements
    }
    for res in results:
        for rid in res.requirements:
            v = out.get(rid)
            if v is None:
                continue
            v.tests.append(res.nodeid)
            if res.outcome == "passed":
                v.passed += 1
            elif res.outcome in ("failed", "error"):
                v.failed += 1
            else:
                v.skipped += 1
    verdict_by_req: dict[str, set[str]] = {}
    for m in measurements:
        if m.requirement:
            verdict_by_req.setdefault(m.requirement, set()).add(m.verdict)
    for rid, v in out.items():
        if v.verdict in ("external", "retired"):
            continue
        seen = verdict_by_req.get(rid, set())
        if v.failed or "fail" in seen:
            v.verdict = "fail"
        elif not v.passed:
            v.verdict = "not verified"
        elif "inconclusive" in seen:
            v.verdict = "inconclusive"
        else:
            v.verdict = "pass"
    return out
