"""Requirement catalogue: the shipped file is valid and complete; wrong files get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.requirements import CatalogueError, coverage, load_catalogue

#: domain.md section 1 rows and the requirement ids that carry them
PRODUCT_SHEET_ROWS = {
    "supply": ["PS-SUPPLY-RANGE", "PS-SUPPLY-POLARITY", "PS-SUPPLY-BROWNOUT"],
    "load": ["PS-UNIT-LOAD"],
    "baud": ["BD-RATES", "BD-SWITCH", "BD-UNSUPPORTED"],
    "addressing": ["AD-PRIMARY", "AD-SET-PRIMARY", "AD-SELECT", "AD-SELECT-WILDCARD", "AD-DESELECT"],
    "data": ["DA-REGISTERS", "DA-VALUES"],
    "rate inputs": ["RI-THRESHOLD", "RI-MAX-VOLTAGE", "RI-DETECT-TIME", "RI-GLITCH"],
    "green LED": ["UI-LED"],
    "push button": ["UI-BUTTON"],
    "standard": ["PS-STANDARD", "LL-REPLY-WINDOW", "LL-SND-NKE", "LL-REQ-UD2"],
    "environment": ["ENV-OPERATING", "ENV-STORAGE"],
    "EMC/safety": ["EMC-IMMUNITY", "EMC-EMISSION", "SAFETY-CATEGORY"],
}


def test_shipped_catalogue_covers_every_product_sheet_row() -> None:
    ids = load_catalogue().by_id()
    for row, needed in PRODUCT_SHEET_ROWS.items():
        missing = [rid for rid in needed if rid not in ids]
        assert not missing, f"product-sheet row {row!r} lacks requirement(s) {missing}"


def test_environment_and_emc_rows_are_external_evidence() -> None:
    cat = load_catalogue()
    for req in cat.requirements:
        if req.area in ("environment", "emc-safety"):
            assert req.method == "external", req.id
    assert all(r.method == "test" for r in cat.testable())


def test_every_entry_cites_a_source() -> None:
    for req in load_catalogue().requirements:
        assert "EN 13757" in req.source or "product sheet" in req.source or "E350" in req.source, req.id


HEAD = "version: 1\nrequirements:\n"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "reqs.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    entry = "  - {id: LL-X, area: link, text: some testable text, source: EN 13757-2 x, method: test}\n"
    with pytest.raises(CatalogueError, match="duplicate requirement id 'LL-X'"):
        load_catalogue(_write(tmp_path, "version: 1\nrequirements:\n" + entry + entry))


def test_unknown_method_names_the_field_and_allowed_values(tmp_path: Path) -> None:
    body = HEAD + "  - {id: LL-X, area: link, text: some testable text, source: EN 13757, method: guess}\n"
    with pytest.raises(CatalogueError) as err:
        load_catalogue(_write(tmp_path, body))
    assert "requirements.0.method" in str(err.value)
    assert "'test'" in str(err.value) and "'external'" in str(err.value)


def test_badly_formed_id_is_rejected(tmp_path: Path) -> None:
    body = HEAD + "  - {id: ll x, area: link, text: some testable text, source: EN 13757, method: test}\n"
    with pytest.raises(CatalogueError, match="must look like AREA-TOPIC"):
        load_catalogue(_write(tmp_path, body))


def test_not_yaml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(_write(tmp_path, "version: [1\n"))
    with pytest.raises(CatalogueError, match="cannot read requirement catalogue"):
        load_catalogue(tmp_path / "absent.yaml")


def test_coverage_reports_both_directions() -> None:
    cat = load_catalogue()
    cov = coverage(cat, {"t_a": ["LL-SND-NKE"], "t_b": [], "t_c": ["LL-SND-NKE", "NO-SUCH-ID"]})
    assert cov.tests_by_requirement["LL-SND-NKE"] == ["t_a", "t_c"]
    assert cov.untraced_tests == ["t_b"]
    assert cov.unknown_ids == {"t_c": ["NO-SUCH-ID"]}
    assert "LL-SND-NKE" not in cov.uncovered
    assert "UI-LED" in cov.uncovered
    assert "EMC-IMMUNITY" not in cov.uncovered and "EMC-IMMUNITY" in cov.external
