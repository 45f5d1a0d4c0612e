"""The dashboard's routes over HTTP (Starlette's TestClient): what each page says, the 404s, the refusal of
paths out of the run folders, the pages for a missing database, and that nothing is ever written."""

from __future__ import annotations

import hashlib
import html as html_module
import os
import re
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from harness.dashboard import create_app
from tests.dashboard.conftest import LIVE_CURRENT, LOAD_TEST, Lab, build_lab


def text_of(html: str) -> str:
    """What a person reads: the page without tags, whitespace collapsed."""
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_runs_page_lists_every_run_with_its_verdict(client: TestClient, lab: Lab) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = text_of(page.text)
    for run_id in (lab.pass_run, lab.fail_run, lab.incomplete_run, lab.other_rig_run, lab.faulted_run):
        assert run_id in text
    assert "pass" in text and "fail" in text and "incomplete" in text
    assert "7 of 7 run(s)" in text
    assert "2026-11-20" in text and "2026-11-23" in text  # grouped by date
    assert "reply_late" in text  # the seeded fault is shown


def test_runs_page_filters_by_rig_and_date(client: TestClient, lab: Lab) -> None:
    text = text_of(client.get("/", params={"rig": "bench-b"}).text)
    assert lab.other_rig_run in text and lab.pass_run not in text and "1 of 1 run(s)" in text
    text = text_of(
        client.get(
            "/", params={"day": lab.fail_run[:4] + "-" + lab.fail_run[4:6] + "-" + lab.fail_run[6:8]}
        ).text
    )
    assert lab.fail_run in text and lab.pass_run not in text


def test_runs_page_names_the_rigs_when_the_rig_is_unknown(client: TestClient) -> None:
    text = text_of(client.get("/", params={"rig": "bench-z"}).text)
    assert "No run of rig bench-z" in text and "bench-a, bench-b" in text


def test_a_malformed_date_is_a_clear_400(client: TestClient) -> None:
    page = client.get("/", params={"day": "yesterday"})
    assert page.status_code == 400
    assert "expected a date YYYY-MM-DD" in text_of(page.text)


def test_run_page_shows_requirement_matrix_and_measurements_in_report_units(
    client: TestClient, lab: Lab
) -> None:
    page = client.get(f"/runs/{lab.fail_run}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Requirement matrix" in text
    for rid in ("PWR-LOAD", "LL-REPLY-WINDOW", "RI-DETECT"):
        assert rid in text
    assert "Quiescent bus current at most 1 unit load" in text  # from the run's own catalogue
    assert re.search(
        r"data-requirement=\"PWR-LOAD\">\s*<td[^>]*>PWR-LOAD</td>\s*<td><span class=\"badge fail\">fail",
        page.text,
    )
    assert "1.620 mA ± 0.002 mA" in text and "≤ 1.5 mA" in text  # as the report prints it: mA, not 0.00162 A
    assert "32 ms ± 1 ms" in text and "4.583 ms .. 187.5 ms" in text
    assert "quiescent_current = 1.62 mA, limit <= 1.5 mA" in text  # the failing test's message


def test_run_page_links_the_sealed_report_and_checks_the_seal(client: TestClient, lab: Lab) -> None:
    page = client.get(f"/runs/{lab.pass_run}")
    text = text_of(page.text)
    assert re.search(rf'id="report-link" href="[^"]*/reports/{lab.pass_run}/report.html"', page.text)
    assert "sealed:" in text and "match manifest.json" in text
    assert "manifest digest matches the results database" in text
    report = client.get(f"/reports/{lab.pass_run}/report.html")
    assert report.status_code == 200 and f"Evidence report {lab.pass_run}" in report.text


def test_an_unsealed_run_says_so(client: TestClient, lab: Lab) -> None:
    text = text_of(client.get(f"/runs/{lab.fail_run}").text)
    assert "not sealed: no manifest.json" in text


def test_a_file_changed_after_sealing_breaks_the_seal_on_the_page(tmp_path: Path) -> None:
    lab = build_lab(tmp_path)
    tests_file = lab.reports / lab.pass_run / "tests.jsonl"
    tests_file.write_text(tests_file.read_text().replace('"failed"', '"passed"') + "\n", encoding="utf-8")
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        text = text_of(c.get(f"/runs/{lab.pass_run}").text)
    assert "seal broken: 1 changed" in text and "changed: tests.jsonl" in text


def test_unknown_run_and_unknown_page_are_404_with_a_message(client: TestClient) -> None:
    page = client.get("/runs/20990101-000000-nowhere")
    assert page.status_code == 404
    assert "run '20990101-000000-nowhere' is not in the results database" in text_of(page.text)
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/trends/no_such_measurement").status_code == 404
    assert client.get("/trends/no_such_measurement/plot.png").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reports/%2e%2e/results.sqlite",
        "/reports/..%2fresults.sqlite",
        "/reports/{run}/..%2f..%2f..%2fetc%2fpasswd",
        "/reports/{run}/%2e%2e/%2e%2e/conftest.py",
        "/reports/%2fetc%2fpasswd",
        "/reports/results.sqlite",
        "/reports/{run}/..%5c..%5cresults.sqlite",
    ],
)
def test_paths_out_of_a_run_folder_are_refused(client: TestClient, lab: Lab, path: str) -> None:
    page = client.get(path.format(run=lab.pass_run))
    assert page.status_code in (403, 404), page.status_code
    assert "SQLite format" not in page.text and "root:" not in page.text
    if page.status_code == 403:
        assert "refused" in text_of(page.text)


def test_a_symlink_out_of_the_run_folder_is_refused(tmp_path: Path) -> None:
    lab = build_lab(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("not evidence", encoding="utf-8")
    os.symlink(secret, lab.reports / lab.pass_run / "link.txt")
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        page = c.get(f"/reports/{lab.pass_run}/link.txt")
        assert page.status_code == 403 and "leads out of its run folder" in text_of(page.text)
        assert c.get(f"/reports/{lab.pass_run}/run.json").status_code == 200  # a file inside is served


def test_trend_page_and_plot(client: TestClient, lab: Lab) -> None:
    page = client.get("/trends/quiescent_current")
    text = text_of(page.text)
    assert page.status_code == 200
    assert "polarity=+, supply_v=24.0" in text and "1.23 mA" in text and "≤ 1.5 mA" in text
    runs_cell = re.compile(r'<td>polarity=\+, supply_v=24.0</td>\s*<td class="num">(\d+)</td>')
    assert runs_cell.search(page.text).group(1) == "6"  # type: ignore[union-attr]  # clean runs only
    plot = client.get("/trends/quiescent_current/plot.png")
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG") and len(plot.content) > 5000
    with_faults = client.get("/trends/quiescent_current", params={"faulted": "1"})
    assert runs_cell.search(with_faults.text).group(1) == "7"  # type: ignore[union-attr]


def test_trends_index_lists_the_measurements(client: TestClient) -> None:
    text = text_of(client.get("/trends").text)
    for name in ("quiescent_current", "reply_latency", "rate_detection_time"):
        assert name in text
    assert client.get("/trends", params={"faulted": "maybe"}).status_code == 400


def test_live_view_shows_progress_current_test_and_last_measurements(client: TestClient, lab: Lab) -> None:
    page = client.get("/live")
    text = text_of(page.text)
    assert page.status_code == 200
    assert f"Live: {lab.live_run}" in text
    assert "3 / 5 (estimate: tests of the previous run on this rig) tests finished" in text
    assert f"now running {LIVE_CURRENT.split('/')[-1]}" in text
    assert "1.250 mA" in text and "5.6 s" in text
    assert '<meta http-equiv="refresh" content="5">' in page.text
    assert client.get("/live/20990101-000000-nowhere").status_code == 404


def test_live_view_uses_the_collected_count_when_the_run_recorded_it(tmp_path: Path) -> None:
    lab = build_lab(tmp_path)
    run_json = lab.reports / lab.live_run / "run.json"
    run_json.write_text(run_json.read_text().rstrip().rstrip("}") + ', "collected": 8}', encoding="utf-8")
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        text = text_of(c.get("/live").text)
    assert "3 / 8 tests finished" in text and "estimate" not in text


def test_live_view_without_a_run_in_progress_says_so(tmp_path: Path) -> None:
    lab = build_lab(tmp_path)
    (lab.reports / lab.live_run / "run.json").unlink()
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        text = text_of(c.get("/live").text)
    assert "No run in progress under" in text


def test_missing_database_gives_a_page_that_says_what_to_do(tmp_path: Path, lab: Lab) -> None:
    missing = tmp_path / "nowhere" / "results.sqlite"
    with TestClient(create_app(missing, lab.reports)) as c:
        for url in ("/", f"/runs/{lab.pass_run}", "/trends", "/trends/quiescent_current/plot.png"):
            page = c.get(url)
            assert page.status_code == 503, url
            text = text_of(page.text)
            assert f"no results database at {missing}" in text and "cmi-hil run" in text and "--db" in text
            assert "Traceback" not in text
        assert c.get("/live").status_code == 200  # the live view reads folders, not the database
    assert not missing.parent.exists()  # nothing created


def test_a_file_that_is_not_a_results_database_is_named(tmp_path: Path, lab: Lab) -> None:
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with TestClient(create_app(other, lab.reports)) as c:
        page = c.get("/")
        assert page.status_code == 503 and "is not a results database (no runs table" in text_of(page.text)
    with TestClient(create_app(garbage, lab.reports)) as c:
        page = c.get("/")
        assert page.status_code == 503 and "cannot read the results database" in text_of(page.text)


def test_browsing_every_page_writes_nothing(tmp_path: Path) -> None:
    lab = build_lab(tmp_path)
    before = {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in lab.reports.rglob("*")
        if p.is_file()
    }
    with TestClient(create_app(lab.db_file, lab.reports)) as c:
        for url in (
            "/",
            "/?rig=bench-a",
            f"/runs/{lab.pass_run}",
            f"/runs/{lab.fail_run}",
            "/trends",
            "/trends/quiescent_current",
            "/trends/quiescent_current/plot.png",
            "/live",
            f"/reports/{lab.pass_run}/report.html",
        ):
            assert c.get(url).status_code == 200, url
    after = {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in lab.reports.rglob("*")
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }
    assert after == {p: v for p, v in before.items() if not p.name.endswith(("-shm", "-wal"))}


def test_the_test_outcomes_of_a_requirement_are_shown(client: TestClient, lab: Lab) -> None:
    page = client.get(f"/runs/{lab.fail_run}")
    row = re.search(r'<tr data-requirement="PWR-LOAD">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "failed" in row.group(1) and LOAD_TEST.split("/")[-1] in text_of(row.group(1))


def test_recorded_text_is_escaped_not_run_as_markup(tmp_path: Path) -> None:
    from harness.evidence import RigInfo, RunInfo, TestResult
    from harness.results import open_db, store_run

    db = tmp_path / "results.sqlite"
    engine = open_db(db)
    info = RunInfo(
        run_id="20261101-000000-x",
        started="2026-11-01T00:00:00+00:00",
        verdict="fail",
        rig=RigInfo(name="x", file="rigs/x.yaml", simulated=True),
        harness_version="0.1.0",
    )
    bad = TestResult(
        nodeid="testcases/t.py::test_<b>",
        outcome="failed",
        duration_s=1.0,
        message="<script>alert(1)</script>",
    )
    store_run(engine, info, [bad], [], {})
    engine.dispose()
    with TestClient(create_app(db, tmp_path)) as c:
        page = c.get("/runs/20261101-000000-x")
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert "test_&lt;b&gt;" in page.text
