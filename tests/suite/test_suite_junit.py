"""JUnit XML carries the requirement ids of every test case as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SUITE = """
import pytest

@pytest.mark.requirement("LL-SND-NKE", "PS-STANDARD")
def test_two_ids():
    pass

def test_no_id():
    pass
"""


def test_requirement_ids_are_junit_properties(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_small=SUITE)
    xml = tmp_path / "junit.xml"
    result = pytester.runpytest("-p", "harness.pytest_plugin", "-p", "harness.junit", f"--junitxml={xml}")
    result.assert_outcomes(passed=2)
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    props = [(p.get("name"), p.get("value")) for p in cases["test_two_ids"].iter("property")]
    assert props == [("requirement", "LL-SND-NKE"), ("requirement", "PS-STANDARD")]
    assert list(cases["test_no_id"].iter("property")) == []
