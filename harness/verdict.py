"""One verdict rule: test, requirement and run verdicts, decided in one place.

The console summary (``cmi-hil run``), the pytest plugin (``run.json``), the evidence report (matrix and
page 1), the Allure categories and the results database all call these functions, so a verdict means
the same thing everywhere (architecture, principle "A verdict means one thing"; issue 11):

* any failure charged to the module fails the run (FAIL beats everything but an interruption);
* a requirement with a skipped, not-run, errored, interrupted or inconclusive test is at best
  "not verified"; a run that verified nothing is INCOMPLETE;
* an interrupted run is INCOMPLETE, never FAIL and never PASS;
* a bench or harness problem (instrument unreachable, rig lock refused, emulator gone, DUT station
  replaced mid-test) is an ERROR of the bench, with its cause, never a failure of the module;
* a requirement only the simulated bench can decide is "simulated bench only" there and "not verified"
  on a real bench; one whose expectation rests on a device-profile value marked ``assumption: true`` is
  "verified against an assumption", never a plain pass.

Pure: no I/O; imports only :mod:`harness.evidence` and the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from harness.evidence import Measurement, Requirement, TestResult

TestVerdict = Literal["pass", "fail", "error", "inconclusive", "skipped", "not run", "interrupted"]
RequirementClass = Literal[
    "fail",
    "error",
    "not verified",
    "against assumption",
    "simulated only",
    "pass",
    "external",
    "not covered",
]
RunVerdict = Literal["pass", "fail", "error", "incomplete"]

#: requirement classes, worst first: the order of the matrix and of every count shown
REQUIREMENT_CLASSES: tuple[RequirementClass, ...] = (
    "fail",
    "error",
    "not verified",
    "against assumption",
    "simulated only",
    "pass",
    "external",
    "not covered",
)
#: how a class is written for a reader (report, console); the class itself is the stored value
CLASS_LABELS: dict[str, str] = {
    "fail": "fail",
    "error": "error (bench)",
    "not verified": "not verified",
    "against assumption": "verified against an assumption",
    "simulated only": "simulated bench only",
    "pass": "pass",
    "external": "external",
    "not covered": "not covered",
}
#: classes that count as verified by this run (each kept apart in the counts)
VERIFIED: frozenset[str] = frozenset({"pass", "against assumption", "simulated only"})
#: test verdicts that leave a requirement at best "not verified"
UNFINISHED: frozenset[str] = frozenset({"skipped", "not run", "interrupted", "inconclusive"})
#: exit status of ``cmi-hil run`` per run verdict: a module failure (1) is told apart from a bench error (3)
EXIT_STATUS: dict[str, int] = {"pass": 0, "incomplete": 0, "fail": 1, "error": 3}


def test_verdict(result: TestResult, measurements: Iterable[Measurement] = ()) -> TestVerdict:
    """Verdict of one test from its recorded outcome and its measurements.

    An error the plugin attributed to the bench or the harness (``error_kind``) is "error"; an error it
    could not attribute is the module's ("fail"): a fixture that could not bring the DUT to its known
    state has judged the DUT. A passed test with a measurement out of limits fails; with a measurement
    inside the uncertainty band of a limit it is inconclusive (architecture: "Every measurement states its
    uncertainty").
    """
    if result.error_kind is not None:
        return "error"
    outcome = result.outcome
    if outcome in ("failed", "error"):
        return "fail"
    if outcome == "skipped":
        return "skipped"
    if outcome == "not run":
        return "not run"
    if outcome == "interrupted":
        return "interrupted"
    verdicts = {m.verdict for m in measurements}
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"


def group_evidence(
    tests: Iterable[TestResult], measurements: Iterable[Measurement]
) -> tuple[dict[str, list[TestResult]], dict[str, list[Measurement]]]:
    """Requirement id -> the tests citing it, and -> the measurements against it. A measurement that names
    no requirement counts for every requirement its test cites."""
    tests = list(tests)
    cited: dict[str, list[TestResult]] = {}
    for t in tests:
        for rid in dict.fromkeys(t.requirements):
            cited.setdefault(rid, []).append(t)
    by_test = {t.nodeid: t.requirements for t in tests}
    measured: dict[str, list[Measurement]] = {}
    for m in measurements:
        for rid in [m.requirement] if m.requirement else by_test.get(m.test, []):
            measured.setdefault(rid, []).append(m)
    return cited, measured


def _count(items: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def requirement_verdict(
    requirement: Requirement | None,
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement],
    *,
    simulated_bench: bool,
) -> tuple[RequirementClass, str]:
    """Class of one requirement in a run, with the reason a reader needs.

    ``tests`` cite the requirement; ``measurements`` are those taken against it (their verdicts also
    count through the test that took them). ``simulated_bench`` says whether the DUT was the emulator.
    """
    tests = list(tests)
    measurements = list(measurements)
    if requirement is not None and requirement.method == "external":
        return "external", "verified by external evidence (not tested here)"
    if not tests and not measurements:
        return "not covered", "no test of this run cites this requirement"
    by_test: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_test.setdefault(m.test, []).append(m)
    verdicts = {t.nodeid: test_verdict(t, by_test.get(t.nodeid, ())) for t in tests}
    failed = [n for n, v in verdicts.items() if v == "fail"]
    bad_meas = [m for m in measurements if m.verdict == "fail"]
    if failed or bad_meas:
        parts = [f"{len(failed)} test(s) failed"] if failed else []
        if bad_meas:
            parts.append(f"{len(bad_meas)} measurement(s) outside limits")
        return "fail", "; ".join(parts)
    errors = [t for t in tests if verdicts[t.nodeid] == "error"]
    if errors:
        kinds = sorted({t.error_kind or "bench" for t in errors})
        return "error", f"{len(errors)} test(s) stopped by a {'/'.join(kinds)} problem: not judged"
    unfinished = [v for v in verdicts.values() if v in UNFINISHED]
    if any(m.verdict == "inconclusive" for m in measurements) and "inconclusive" not in unfinished:
        unfinished.append("inconclusive")
    sim_only_elsewhere = requirement is not None and requirement.simulated_only and not simulated_bench
    if unfinished:
        why = _count(unfinished).replace("inconclusive", "inconclusive (within the uncertainty band)")
        also = "; only the simulated bench can decide it" if sim_only_elsewhere else ""
        return "not verified", f"test(s) {why}{also}"
    if not tests:  # measurements only, all inside their limits
        passed = f"{len(measurements)} measurement(s) within limits"
    else:
        passed = f"{len(tests)} test(s) passed"
    if requirement is not None and requirement.simulated_only:
        if sim_only_elsewhere:
            return "not verified", f"{passed}, but only the simulated bench can decide it (meter model)"
        return "simulated only", f"{passed} on the simulated bench; a real bench cannot decide it"
    if requirement is not None and requirement.assumed:
        return (
            "against assumption",
            f"{passed}; rests on assumed profile value(s) {', '.join(requirement.assumed)}",
        )
    return "pass", passed


@dataclass(frozen=True)
class RunDecision:
    """The run verdict, why, and what a reader of page 1 must see."""

    verdict: RunVerdict
    reason: str
    #: bench or harness problems that stopped tests: "cause (test)", first seen first
    causes: tuple[str, ...] = ()
    #: True when at least one testable requirement was left not verified or not covered
    partial: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.verdict]


def error_causes(tests: Iterable[TestResult]) -> tuple[str, ...]:
    """The bench/harness problems that stopped tests, each once: "bench: <message> (<test>)"."""
    seen: dict[str, str] = {}
    for t in tests:
        if t.error_kind is None:
            continue
        message = (t.message or "no message recorded").strip().splitlines()[0][:300]
        key = f"{t.error_kind}: {message}"
        seen.setdefault(key, t.nodeid)
    return tuple(f"{cause} ({nodeid})" for cause, nodeid in seen.items())


def run_verdict(
    classes: Mapping[str, str],
    tests: Iterable[TestResult],
    measurements: Iterable[Measurement] = (),
    *,
    interrupted: bool = False,
) -> RunDecision:
    """The run verdict from the requirement classes (``requirement_verdict``) and every test result.

    Order: an interrupted run is INCOMPLETE; else any failure charged to the module is FAIL; else a bench or
    harness problem is ERROR (with its causes); else a run that verified no requirement is INCOMPLETE;
    else PASS, ``partial`` when some requirement stayed not verified or not covered.
    """
    tests = list(tests)
    by_test: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_test.setdefault(m.test, []).append(m)
    test_verdicts = [test_verdict(t, by_test.get(t.nodeid, ())) for t in tests]
    counts: dict[str, int] = {c: sum(1 for v in classes.values() if v == c) for c in REQUIREMENT_CLASSES}
    causes = error_causes(tests)
    partial = counts["not verified"] + counts["not covered"] + counts["error"] > 0
    interrupted = interrupted or "interrupted" in test_verdicts
    if interrupted:
        return RunDecision("incomplete", "the run was interrupted before it finished", causes, True, counts)
    failed = sum(1 for v in test_verdicts if v == "fail")
    if failed or counts["fail"]:
        return RunDecision(
            "fail",
            f"{counts['fail']} requirement(s) failed, {failed} test(s) failed",
            causes,
            partial,
            counts,
        )
    if causes or counts["error"] or "error" in test_verdicts:
        return RunDecision(
            "error",
            "a bench or harness problem stopped the run; the module was not judged",
            causes,
            True,
            counts,
        )
    verified = sum(counts[c] for c in VERIFIED)
    if not verified:
        why = "no test ran" if not tests else "no requirement was verified"
        return RunDecision("incomplete", why, causes, True, counts)
    return RunDecision("pass", f"{verified} requirement(s) verified, none failed", causes, partial, counts)


# --- telegram values: exact for integers and enumerations, resolution for analog quantities -------------

#: decoded quantities (harness.mbus.records.describe) that are integers or enumerations: compared exactly.
#: EN 13757-3 table "VIFE codes for reports of record errors" / extension table FD: 0x17 error flags,
#: 0x1A digital output (breaker), 0x1B digital input (tariff), 0x61 cumulation counter, 0x0E firmware,
#: VIF 0x78 fabrication number; the product sheet lists tariff, breaker and counters as E350 registers.
EXACT_QUANTITIES: frozenset[str] = frozenset(
    {
        "digital_input",
        "digital_output",
        "error_flags",
        "cumulation_counter",
        "firmware_version",
        "software_version",
        "hardware_version",
        "fabrication_number",
        "bus_address",
        "access_number",
        "status",
    }
)


def is_exact_quantity(quantity: str, unit: str) -> bool:
    """True for an integer or enumerated register (no unit, or a quantity of :data:`EXACT_QUANTITIES`)."""
    return quantity in EXACT_QUANTITIES or not unit


def register_resolution(quantity: str, unit: str, scale: float) -> float:
    """The tolerance a register's value may carry: 0 for integers and enumerations, else the declared
    resolution of the analog quantity, one step of the data field (device profile ``scale``: raw value =
    value in ``unit`` x scale, so one step is 1/scale ``unit``; e.g. 0.1 V for voltage at scale 10)."""
    if is_exact_quantity(quantity, unit):
        return 0.0
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"register scale must be a positive number, got {scale!r}; check the device profile")
    return 1.0 / scale


def register_agrees(
    quantity: str,
    unit: str,
    scale: float,
    value: float | int | str | None,
    before: float | int | str,
    after: float | int | str,
) -> bool:
    """Whether a telegram value agrees with the reference read just before and just after it.

    Enumerations (tariff, breaker, error flags, status) must equal one of the two reference values, never a
    value between them; counters must lie in [before, after] exactly; an analog quantity may differ from
    that interval by its declared resolution (:func:`register_resolution`). Non-numeric values (text,
    dates) must equal a reference value.
    """
    if value is None:
        return False
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (value, before, after))
    if not numeric:
        return value in (before, after)
    v, lo, hi = float(value), float(min(before, after)), float(max(before, after))
    if quantity != "cumulation_counter" and is_exact_quantity(quantity, unit):
        return v in (float(before), float(after))
    tolerance = register_resolution(quantity, unit, scale)
    return lo - tolerance <= v <= hi + tolerance
