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


def _row(
    value: float | None,
    unit: str,
    low: float | None = None,
    high: float | None = None,
    u: float = 0.0,
    name: str = "x",
    **conditions: object,
) -> units.MeasurementGroup:
    m = _m(value, low=low, high=high, unit=unit, name=name, **conditions).model_copy(
        update={"uncertainty": u}
    )
    return units.MeasurementGroup([m])


@pytest.mark.parametrize(
    ("row", "value", "limits", "margin"),
    [
        # a register compared within its resolution shows every digit, no exponent, no unit "1"
        (_row(35012345.0, "1", 35012344.0, 35012346.0), "35012345", "35012344 .. 35012346", "1"),
        (_row(1604850.0, "Wh", 1604849.0, 1604852.0), "1604850 Wh", "1604849 Wh .. 1604852 Wh", "1 Wh"),
        (_row(1.0, "count", 1.0, 1.0), "1", "= 1 (exact)", "0"),
        # analog: one prefix for the row, the precision its uncertainty or its margin supports
        (_row(230.0, "V", 229.9, 230.1), "230.0 V", "229.9 V .. 230.1 V", "0.1 V"),
        (_row(1.35e-3, "A", None, 1.5e-3, 5.675e-6), "1.350 mA \u00b1 0.006 mA", "\u2264 1.5 mA", "0.150 mA"),
        (
            _row(0.029166, "s", 0.004583, 0.1875, 1e-4),
            "29.2 ms \u00b1 0.1 ms",
            "4.583 ms .. 187.5 ms",
            "24.6 ms",
        ),
        (_row(1.0, "bool", 1.0), "yes", "must be yes", "-"),
        (_row(0.0, "bool", None, 0.0), "no", "must be no", "-"),
    ],
)
def test_numbers_read_in_the_quantitys_unit_and_precision(row, value, limits, margin) -> None:
    assert (row.value_text(), row.limits_text(), row.margin_text()) == (value, limits, margin)


@pytest.mark.parametrize("unit", ["A", "s", "Wh", "1", "V", "degC", "count"])
def test_no_number_is_shown_in_scientific_notation(unit) -> None:
    for exponent in range(-7, 9):
        for mantissa in (1.0, 9.9996, 3.501, 99.99):
            value = mantissa * 10.0**exponent
            shown = units.si(value, unit) + units.si(value, unit, 2) + units.si(-value, unit)
            assert "e+" not in shown and "e-" not in shown, (value, unit, shown)
    assert units.si(0.00099999, "A") == "1 mA" and units.si(0.0999999, "s", 2) == "100 ms"
    assert units.si(35012345.0, "1") == "35012345" and units.si(3.0, "1") == "3"


def test_margin_percent_is_left_out_where_it_says_nothing() -> None:
    assert units.margin_percent(_m(1.0, low=1.0, unit="bool")) is None
    assert units.margin_percent(_m(1.0, low=1.0, high=1.0, unit="count")) is None
    assert units.margin_percent(_m(1.35e-3, high=1.5e-3)) == pytest.approx(10.0)


def test_conditions_read_with_their_units_and_yes_no() -> None:
    text = units.conditions_text({"supply_v": 21.0, "polarity": "+", "baud": 2400, "mains": True})
    assert text == "supply 21 V, polarity +, 2400 Bd, mains yes"
    assert "True" not in units.conditions_text({"a": True, "b": False})


def test_a_derived_limit_says_where_it_comes_from() -> None:
    m = _m(7.7, low=5.0, high=5.0 + 2 * 1.5 + 0.5, name="rate_detection_time", unit="s", read_s=1.5)
    m = m.model_copy(update={"uncertainty": 0.5})
    assert units.limit_origin(m) == (
        "5 s minimum detection time (product sheet) .. 5 s + 2 \u00d7 1.5 s read-out + 0.5 s polling step"
    )
    # a window that is not 5 s + two read-outs + the polling step is not explained as if it were
    other = m.model_copy(update={"high": 12.0})
    assert "read-out" not in (units.limit_origin(other) or "")
    assert units.limit_origin(_m(1.0, name="register_x")) is None


def test_report_figures_render_without_warnings_and_tell_overlapping_polarities_apart() -> None:
    import warnings

    same = [
        _m(1.35e-3, high=1.5e-3, name="quiescent_current", supply_v=v, polarity=p)
        for p in "+-"
        for v in (21, 30, 42)
    ]
    detection = [
        _m(7.7, low=5.0, high=8.5, name="rate_detection_time", unit="s", input=i, vac=28.0, read_s=1.5)
        for i in (1, 2, 3, 4)
    ]
    for inputs in (detection[:1], detection):  # one bar left no room for a legend under tight_layout
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a tight-layout or other matplotlib warning fails the test
            figures = plots.report_figures(same + inputs)
        assert figures[0].png and figures[2].png
    # the two polarities differ in marker, fill and line style, so coinciding curves both show
    styles = {
        p: (s["marker"], s.get("fillstyle", "full"), s["linestyle"])
        for p, s in (("+", plots.POLARITY_STYLES["+"]), ("-", plots.POLARITY_STYLES["-"]))
    }
    assert len(set(styles.values())) == 2 and all(a != b for a, b in zip(*styles.values(), strict=True))



def test_a_reply_latency_at_or_below_zero_is_drawn_on_the_log_floor_without_a_warning() -> None:
    """A latency estimate minus its path allowance can come out below 0 s (a too-early reply under a wide
    allowance): the log axis cannot show it, so it sits on the floor with a note, and nothing warns."""
    import warnings

    latencies = [
        _m(v, verdict=verdict, low=0.0046, high=0.1875, name="reply_latency", unit="s", baud=2400)
        for v, verdict in ((0.031, "pass"), (-0.0487, "fail"), (0.0, "fail"))
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "non-positive ylim on a log-scaled axis" fails the test
        png = plots.reply_latency_plot(latencies)
    assert png is not None and png.startswith(b"\x89PNG")
