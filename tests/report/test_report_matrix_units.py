"""Requirement verdicts, margins, number formatting and plots: the pure parts of the report."""

from __future__ import annotations

import pytest

from harness.evidence import Measurement, Requirement
from harness.evidence import TestResult as RunTestResult  # alias: pytest would try to collect TestResult
from harness.report import plots, units
from harness.report.matrix import build_matrix, requirement_verdict, run_verdict


def _m(
    value: float | None,
    *,
    verdict: str = "pass",
    low: float | None = None,
    high: float | None = None,
    name: str = "x",
    unit: str = "A",
    req: str | None = "R1",
    **conditions: object,
) -> Measurement:
    return Measurement(
        test="t::a",
        name=name,
        value=value,
        unit=unit,
        low=low,
        high=high,
        verdict=verdict,
        requirement=req,
        timestamp="2026-11-24T10:00:00+00:00",
        conditions=conditions,
    )


def _t(outcome: str, *reqs: str, nodeid: str = "t::a", kind: str | None = None) -> RunTestResult:
    return RunTestResult(
        nodeid=nodeid, outcome=outcome, duration_s=0.1, requirements=list(reqs), error_kind=kind
    )


@pytest.mark.parametrize(
    ("tests", "measurements", "expected"),
    [
        ([_t("passed", "R1")], [_m(1.0)], "pass"),
        ([_t("passed", "R1"), _t("failed", "R1")], [], "fail"),
        ([_t("error", "R1")], [], "fail"),  # an error nobody charged to the bench is the module's
        ([_t("error", "R1", kind="bench")], [], "error"),
        ([_t("passed", "R1"), _t("error", "R1", kind="harness", nodeid="t::b")], [], "error"),
        ([_t("passed", "R1")], [_m(2.0, verdict="fail")], "fail"),  # a passing test cannot hide a bad value
        ([_t("passed", "R1")], [_m(1.0, verdict="inconclusive")], "not verified"),
        ([_t("skipped", "R1")], [], "not verified"),
        ([_t("passed", "R1"), _t("not run", "R1", nodeid="t::b")], [], "not verified"),
        ([], [], "not covered"),
    ],
)
def test_requirement_verdict_follows_the_worst_evidence(tests, measurements, expected) -> None:
    assert requirement_verdict(tests, measurements)[0] == expected


def test_matrix_sorts_failures_first_and_finds_gaps_both_ways() -> None:
    catalogue = [Requirement(id=i, text=i, source="s", method="m") for i in ("A", "B", "C", "D")]
    tests = [
        _t("passed", "A", nodeid="t::1"),
        _t("failed", "B", nodeid="t::2"),
        _t("skipped", "C", nodeid="t::3"),
        _t("passed", "ZZ", nodeid="t::4"),
        _t("passed", nodeid="t::5"),
    ]
    matrix = build_matrix(catalogue, tests, [])
    assert [(r.id, r.verdict) for r in matrix.rows] == [
        ("B", "fail"),
        ("C", "not verified"),
        ("A", "pass"),
        ("ZZ", "pass"),
    ]
    assert [r.id for r in matrix.uncovered] == ["D"]
    assert matrix.unknown_ids == ["ZZ"]
    assert [t.nodeid for t in matrix.untraced_tests] == ["t::5"]
    assert run_verdict(matrix, tests).verdict == "fail"
    assert run_verdict(build_matrix(catalogue, [tests[0]], []), [tests[0]]).verdict == "pass"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.00123, "A", "1.23 mA"),
        (1.5e-3, "A", "1.5 mA"),
        (187.5e-3, "s", "187.5 ms"),
        (5.0, "s", "5 s"),
        (2.5e-6, "A", "2.5 \u00b5A"),
        (1234567.0, "Wh", "1.235 MWh"),
        (23.1, "degC", "23.1 degC"),
        (None, "A", "-"),
        (-0.0004, "A", "-400 \u00b5A"),
        (0.0, "V", "0 V"),
    ],
)
def test_si_prefixes(value, unit, text) -> None:
    assert units.si(value, unit) == text


def test_margin_is_negative_outside_and_relative_to_the_limit() -> None:
    assert units.margin(_m(1.2e-3, high=1.5e-3)) == pytest.approx(0.3e-3)
    assert units.margin(_m(1.6e-3, high=1.5e-3)) == pytest.approx(-0.1e-3)
    assert units.margin_percent(_m(1.2e-3, high=1.5e-3)) == pytest.approx(20.0)
    assert units.margin(_m(0.012, low=0.004583, high=0.1875)) == pytest.approx(0.012 - 0.004583)
    assert units.margin(_m(1.0)) is None and units.margin(_m(None, high=1.0)) is None


def test_plots_render_png_only_when_the_run_has_the_measurement() -> None:
    data = [_m(1.1e-3, name="quiescent_current", supply_v=v, polarity=p) for v in (21, 42) for p in "+-"]
    data += [
        _m(0.012, name="reply_latency", unit="s", baud=2400),
        _m(0.08, name="reply_latency", unit="s", baud=300),
        _m(0.013, name="reply_latency_path", unit="s", baud=2400),
    ]
    data += [_m(5.2, name="rate_detection_time", unit="s", low=5.0, high=6.0, input=i) for i in range(1, 5)]
    for render in (plots.quiescent_current_plot, plots.reply_latency_plot, plots.rate_detection_plot):
        png = render(data)
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
        assert render([_m(1.0, name="other")]) is None


def _allure_category(status: str, message: str, trace: str = "") -> str | None:
    """The first category Allure would pick (its regexes must match the whole text, as Java's matches())."""
    import re

    from harness.report.allure import CATEGORIES

    for cat in CATEGORIES:
        if status not in cat["matchedStatuses"]:
            continue
        if "messageRegex" in cat and not re.fullmatch(cat["messageRegex"], message):
            continue
        if "traceRegex" in cat and not re.fullmatch(cat["traceRegex"], trace):
            continue
        return str(cat["name"])
    return None


@pytest.mark.parametrize(
    ("status", "message", "trace", "category"),
    [
        ("failed", "AssertionError: quiescent_current = 0.0027 A: FAIL", "", "Product defect"),
        ("broken", "pyvisa.errors.VisaIOError: VI_ERROR_TMO (-1073807339)", "", "Rig problem"),
        ("broken", "ConnectionRefusedError: [Errno 111]", "", "Rig problem"),
        ("broken", "OSError: x", 'File "/x/site-packages/serial/rfc2217.py", line 3', "Rig problem"),
        ("broken", "KeyError: 'tariff'", 'File "/x/harness/emulator/oracle.py", line 9', "Harness error"),
    ],
)
def test_allure_categories_tell_product_rig_and_harness_apart(status, message, trace, category) -> None:
    assert _allure_category(status, message, trace) == category
