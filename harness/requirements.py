"""The requirement catalogue: what the CMi1020 must do, as data (``harness/requirements.yaml``).

Each requirement has a stable id, a testable text, its source (a product-sheet row or an EN 13757
clause) and how it is verified (``test`` here, ``external`` evidence from another lab). Tests cite ids
with ``@pytest.mark.requirement(...)``; :func:`coverage` reports both directions of traceability.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.datafile import read_yaml_mapping
from harness.evidence import Measurement, Requirement, TestResult
from harness.verdict import RequirementClass, group_evidence, requirement_verdict, test_verdict

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
Capability = Literal[
    "supply",
    "supply_range",
    "polarity",
    "dmm",
    "ac_source",
    "mains",
    "button",
    "led",
    "meter_mains",
    "meter_load",
    "current_sampling",
]
ID_PATTERN = re.compile(r"^[A-Z]{2,8}(-[A-Z0-9]+)+$")
PROFILE_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z0-9_]+)*$")


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
    #: only the simulated bench can decide it (values against the meter model, extra slaves): on a real bench
    #: it is "not verified" with that reason, on a simulated one "simulated bench only" (harness.verdict)
    simulated_only: bool = False
    #: dotted device-profile paths its expectation rests on (``link.reply_delay_extra_s``,
    #: ``registers.active_tariff``); one marked ``assumption: true`` makes it "verified against an assumption"
    assumes: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"id {value!r} must look like AREA-TOPIC (upper case letters, digits, dashes)")
        return value

    @field_validator("assumes")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not PROFILE_PATH.match(path):
                raise ValueError(
                    f"assumes entry {path!r} must be a dotted device-profile path such as "
                    "'link.reply_delay_extra_s' or 'registers.active_tariff'"
                )
        return value

    def as_evidence(self, assumed: Iterable[str] = ()) -> Requirement:
        """The record written to the run folder's requirements.json (harness.evidence.Requirement);
        ``assumed``: those of :attr:`assumes` the profile in force marks ``assumption: true``."""
        return Requirement(
            id=self.id,
            text=self.text,
            source=self.source,
            method=self.method,
            area=self.area,
            simulated_only=self.simulated_only,
            assumes=list(self.assumes),
            assumed=list(assumed),
        )


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


def assumed_paths(profile: Mapping[str, Any], paths: Iterable[str]) -> list[str]:
    """Those of ``paths`` (dotted, into the device profile's YAML mapping) that rest on a value marked
    ``assumption: true``: the value itself, or any section or register above it. Pure.

    A list step matches the entry whose ``name`` is the step (``registers.active_tariff``). Raises
    :class:`CatalogueError` for a path the profile does not have.
    """
    out: list[str] = []
    for path in paths:
        node: Any = profile
        assumed = False
        for step in path.split("."):
            if isinstance(node, Mapping):
                assumed = assumed or node.get("assumption") is True
                if step not in node:
                    _missing(path, step)
                node = node[step]
            elif isinstance(node, list):
                match = [e for e in node if isinstance(e, Mapping) and e.get("name") == step]
                if not match:
                    _missing(path, step)
                node = match[0]
            else:
                _missing(path, step)
        if isinstance(node, Mapping):
            assumed = assumed or node.get("assumption") is True
        if assumed:
            out.append(path)
    return out


def _missing(path: str, step: str) -> NoReturn:
    raise CatalogueError(
        f"a requirement assumes device-profile value {path!r}, but the profile has no {step!r} there; "
        "correct the requirement's `assumes` entry or the device profile"
    )


class RequirementVerdict(BaseModel):
    """Verdict of one requirement in a run (class from :func:`harness.verdict.requirement_verdict`)."""

    id: str
    verdict: RequirementClass | Literal["retired"]
    source: str
    reason: str = ""
    passed: int = 0
    failed: int = 0
    skipped: int = 0  #: skipped, not run, interrupted or errored: not judged
    tests: list[str] = Field(default_factory=list)


def requirement_verdicts(
    requirements: Catalogue | Iterable[Requirement | RequirementEntry],
    results: Iterable[TestResult],
    measurements: Iterable[Measurement],
    *,
    simulated_bench: bool = True,
) -> dict[str, RequirementVerdict]:
    """Per requirement of the catalogue (or of a run's requirements.json), its class by the one verdict
    rule (:mod:`harness.verdict`), in catalogue order. Pure."""
    entries = requirements.requirements if isinstance(requirements, Catalogue) else requirements
    reqs = [r.as_evidence() if isinstance(r, RequirementEntry) else r for r in entries]
    results = list(results)
    cited, measured = group_evidence(results, measurements)
    out: dict[str, RequirementVerdict] = {}
    for req in reqs:
        tests = cited.get(req.id, [])
        if req.method == "retired":
            verdict, reason = "retired", "retired requirement"
        else:
            verdict, reason = requirement_verdict(
                req, tests, measured.get(req.id, []), simulated_bench=simulated_bench
            )
        out[req.id] = RequirementVerdict(
            id=req.id,
            verdict=verdict,  # type: ignore[arg-type]
            source=req.source,
            reason=reason,
            passed=sum(1 for t in tests if t.outcome == "passed" and t.error_kind is None),
            failed=sum(1 for t in tests if test_verdict(t) == "fail"),
            skipped=sum(1 for t in tests if test_verdict(t) not in ("pass", "fail")),
            tests=[t.nodeid for t in tests],
        )
    return out
