"""The evidence report rendered from a run folder: HTML self-contained, PDF with cover and plots."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from harness import evidence
from harness.evidence import Requirement
from harness.report import finalize_run, load_run, verify_manifest
from harness.report.allure import write_allure_metadata
from harness.report.render import render_html, render_transcripts, report_context


def _pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def test_finalize_writes_report_pdf_manifest_and_allure_metadata(finalized_fail_run: Path) -> None:
    run_dir = finalized_fail_run
    assert verify_manifest(run_dir).ok
    for name in (
        "report.html",
        "report.pdf",
        "manifest.json",
        "allure-results/environment.properties",
        "allure-results/categories.json",
    ):
        assert (run_dir / name).is_file(), name
    categories = json.loads((run_dir / "allure-results/categories.json").read_text())
    assert {c["name"] for c in categories} == {"Product defect", "Rig problem", "Harness error"}
    env = (run_dir / "allure-results/environment.properties").read_text()
    assert "rig=sim" in env and "dut.id=12345678" in env and "harness.version=0.1.0" in env


def test_html_is_self_contained_with_embedded_plots(finalized_pass_run: Path) -> None:
    run_dir = finalized_pass_run
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3
    assert not re.search(r'(src|href)="(https?:|file:|/)', html), "report must not reference outside files"
    assert "<link" not in html and "<style>" in html


def test_cover_shows_verdict_dut_rig_and_calibration(finalized_fail_run: Path) -> None:
    run_dir = finalized_fail_run
    page1 = re.sub(r"\s+", "", _pdf_pages(run_dir / "report.pdf")[0])  # PDF text wraps where it likes
    for expected in (
        "VERDICT: FAIL",
        "12345678",
        "ELV",
        "0x02 (electricity)",
        "1.4.2",
        "CMI-HIL,SIM-PSU-60",
        "SIM0002",
        "2026-01-31",
        "overdue",
        "Calibration overdue on the run date: dmm",
        "lab operator A",
        "23.1 degC",
        "88fd317",
        "93.4 s",
    ):
        assert expected.replace(" ", "") in page1, expected


def test_pass_run_says_pass_and_shows_no_overdue_marker_for_valid_calibration(make_run) -> None:
    run_dir = make_run()
    html = render_html(report_context(load_run(run_dir)))
    assert "VERDICT: PASS" in html
    assert "2027-06-30</td>" in html.replace(" (overdue)", "") and "2027-06-30 (overdue)" not in html


def test_requirement_matrix_lists_failures_first_and_uncovered_requirements(make_run) -> None:
    run_dir = make_run(fail_led=True)
    reqs = json.loads((run_dir / evidence.REQUIREMENTS_FILE).read_text())
    reqs.append(
        Requirement(
            id="RB-NOISE", text="Survives garbage on the bus", source="EN 13757-2", method="stimulus"
        ).model_dump()
    )
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(json.dumps(reqs))
    html = render_html(report_context(load_run(run_dir)))
    matrix = html[html.index("2. Requirement matrix") : html.index("3. Measurements")]
    assert matrix.index("UI-LED") < matrix.index("LL-REPLY-WINDOW") < matrix.index("RI-DETECT")
    assert "Requirements no test of this run verifies (1)" in matrix and "RB-NOISE" in matrix
    assert "Tests citing no requirement (1)" in matrix and "test_garbage_on_bus" in matrix
    assert "LED off while the module read the meter" in matrix


def test_measurement_table_shows_limits_margin_and_out_of_limit_first(make_run) -> None:
    run_dir = make_run(current_scale=1.4)  # 1.10 mA * 1.4 > 1.5 mA at the top of the sweep
    html = render_html(report_context(load_run(run_dir)))
    table = html[html.index("3. Measurements") : html.index("4. Plots")]
    rows = re.findall(
        r"<tr><td class=\"small\"><b>(\w+)</b>.*?class=\"(pass|fail|inconclusive)\"", table, re.S
    )
    verdicts = [v for _, v in rows]
    assert "fail" in verdicts and verdicts == sorted(verdicts, key=lambda v: v != "fail")
    # limits and margin in the unit and at the prefix of the row's value; derived limits say where from
    assert "\u2264 1.5 mA" in table and "36.67 ms .. 1150 ms" in table
    assert re.search(r">-\d+\.\d+ mA<", table), "a value beyond its limit has a negative margin in mA"
    assert "11 bit times .. 330 bit times + 50 ms at 300 Bd (EN 13757-2)" in table


def test_transcripts_are_decoded_and_undecodable_bytes_say_why(make_run) -> None:
    run = load_run(make_run())
    context = report_context(run)
    html = render_html(context)
    reference = html[html.index("Appendix A") : html.index("Appendix B")]
    assert '<a href="transcripts.html">' in reference and "2 transcript(s), 10 frame(s)" in reference
    assert "SND_NKE" not in html, "the frames are in the appendix file, not in the report"
    appendix = render_transcripts(context, run)
    assert "SND_NKE" in appendix and "E5 (single character acknowledge)" in appendix
    assert "id 12345678 ELV" in appendix and "energy" in appendix and "1234567" in appendix
    assert "undecodable" in appendix


def test_unreadable_records_are_reported_and_the_rest_kept(make_run, capsys) -> None:
    run_dir = make_run()
    with (run_dir / evidence.MEASUREMENTS_FILE).open("a") as f:
        f.write('{"test": "x", "name": "broken", "value": "not a number"\n')
    run = load_run(run_dir)
    assert len(run.measurements) == 22
    assert len(run.problems) == 1 and "measurements.jsonl:23" in run.problems[0]
    assert finalize_run(run_dir) == 0
    assert "evidence problem" in capsys.readouterr().err
    assert "Records that could not be read" in (run_dir / "report.html").read_text()


def test_missing_run_record_is_a_clear_error_not_a_traceback(tmp_path, capsys) -> None:
    (tmp_path / "empty-run").mkdir()
    assert finalize_run(tmp_path / "empty-run") == 2
    err = capsys.readouterr().err
    assert "no run.json" in err and "Traceback" not in err


def test_plots_are_missing_with_a_note_when_the_run_took_no_such_measurement(make_run) -> None:
    run_dir = make_run()
    (run_dir / evidence.MEASUREMENTS_FILE).write_text("")
    html = render_html(report_context(load_run(run_dir)))
    assert "data:image/png" not in html
    assert html.count("measurements in this run") == 3


def test_pdf_pages_show_the_plots(finalized_pass_run: Path, tmp_path) -> None:
    run_dir = finalized_pass_run
    reader = PdfReader(run_dir / "report.pdf")
    images = sum(len(page.images) for page in reader.pages)
    assert images == 3
    text = "\n".join(_pdf_pages(run_dir / "report.pdf"))
    assert "Quiescent bus current vs supply voltage" in text and "Rate-input detection timeline" in text
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed: PNG pages not rendered")
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(run_dir / "report.pdf"), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(reader.pages) and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_allure_environment_keeps_what_the_suite_wrote(make_run) -> None:
    run_dir = make_run()
    (run_dir / "allure-results" / "environment.properties").write_text("time_scale=0.1\nrig=old\n")
    write_allure_metadata(run_dir, load_run(run_dir).info)
    env = (run_dir / "allure-results" / "environment.properties").read_text()
    assert "time_scale=0.1" in env and "rig=sim" in env and "rig=old" not in env


def test_external_requirements_are_listed_apart_from_uncovered(make_run) -> None:
    run_dir = make_run()
    reqs = json.loads((run_dir / evidence.REQUIREMENTS_FILE).read_text())
    reqs.append(
        Requirement(
            id="ENV-EMC", text="EN 61000-6-2 immunity", source="product sheet: EMC", method="external"
        ).model_dump()
    )
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(json.dumps(reqs))
    html = render_html(report_context(load_run(run_dir)))
    assert "Requirements verified by external evidence (1)" in html and "ENV-EMC" in html
    assert "Requirements no test of this run verifies" not in html


def test_plots_are_attached_to_the_allure_results_of_the_measuring_tests(finalized_pass_run: Path) -> None:
    results = finalized_pass_run / "allure-results"
    doc = json.loads((results / "0a1c-result.json").read_text())
    names = [a["name"] for a in doc["attachments"]]
    assert names == ["M-Bus transcript", "plot: Quiescent bus current vs supply voltage (both polarities)"]
    assert (results / doc["attachments"][1]["source"]).read_bytes()[:4] == b"\x89PNG"
    assert "attachments" not in json.loads((results / "0a1b-result.json").read_text())


def test_evidence_text_is_escaped_in_the_html(make_run) -> None:
    run_dir = make_run(fail_led=True)
    tests = run_dir / evidence.TESTS_FILE
    tests.write_text(tests.read_text().replace("LED off while", "<script>alert(1)</script> LED off while"))
    html = render_html(report_context(load_run(run_dir)))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _render(run_dir: Path) -> str:
    """The report HTML without its plots (the page-1 and matrix checks do not need them)."""
    return render_html(report_context(load_run(run_dir), report_figures=[]))


def _rewrite_tests(run_dir: Path, **changes: dict) -> None:
    """Change recorded test results by test function name (a suffix of the node id)."""
    path = run_dir / evidence.TESTS_FILE
    tests = [evidence.TestResult.model_validate_json(line) for line in path.read_text().splitlines() if line]
    out = []
    for t in tests:
        for name, update in changes.items():
            if t.nodeid.endswith(name):
                t = t.model_copy(update=update)
        out.append(t.model_dump_json())
    path.write_text("\n".join(out) + "\n")


def _page1(html: str) -> str:
    return html[: html.index("<h3>Device under test</h3>")]


def test_page1_names_the_bench_error_and_never_calls_it_a_failure(make_run) -> None:
    run_dir = make_run()
    cause = (
        "instrument 'dmm' at TCPIP::127.0.0.1::40003::SOCKET did not answer: [Errno 111] Connection refused"
    )
    _rewrite_tests(
        run_dir,
        **{
            "test_led_shows_meter_communication": {
                "outcome": "error",
                "error_kind": "bench",
                "message": cause,
            }
        },
    )
    html = _render(run_dir)
    page1 = _page1(html)
    assert "VERDICT: ERROR" in page1 and "VERDICT: FAIL" not in page1 and "VERDICT: PASS" not in page1
    assert "ERROR of the bench, not a verdict on the module" in page1 and "Connection refused" in page1
    matrix = html[html.index("2. Requirement matrix") : html.index("3. Measurements")]
    assert 'class="error">error (bench)</td>' in matrix


def test_page1_of_a_module_failure_is_fail_without_a_bench_error_block(make_run) -> None:
    html = _render(make_run(fail_led=True))
    page1 = _page1(html)
    assert "VERDICT: FAIL" in page1 and "ERROR of the bench" not in page1 and 'id="bench-error"' not in page1


def test_matrix_and_page1_show_assumption_and_simulated_only_classes(make_run) -> None:
    run_dir = make_run()
    reqs = json.loads((run_dir / evidence.REQUIREMENTS_FILE).read_text())
    for r in reqs:
        if r["id"] == "LL-REPLY-WINDOW":
            r.update(assumes=["link.reply_delay_extra_s"], assumed=["link.reply_delay_extra_s"])
        if r["id"] == "UI-LED":
            r["simulated_only"] = True
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(json.dumps(reqs))
    html = _render(run_dir)
    page1 = _page1(html)
    assert "1 requirement(s) verified against an assumption" in page1
    assert "1 requirement(s) verified on the simulated bench only" in page1
    counts = page1[page1.index('id="counts"') :]
    heads = re.findall(r"<th[^>]*>([^<]+)</th>", counts)[:9]
    values = re.findall(r'<td class="num">(\d+)</td>', counts)[:9]
    shown = dict(zip(heads, values, strict=True))
    assert shown["against assumption"] == "1" and shown["simulated only"] == "1"
    assert shown["pass"] == "3" and shown["fail"] == "0" and shown["error"] == "0"
    matrix = html[html.index("2. Requirement matrix") : html.index("3. Measurements")]
    assert 'class="againstassumption">verified against an assumption</td>' in matrix
    assert 'class="simulatedonly">simulated bench only</td>' in matrix


def test_a_real_bench_lists_a_simulated_only_requirement_as_not_verified_with_the_reason(make_run) -> None:
    run_dir = make_run()
    reqs = json.loads((run_dir / evidence.REQUIREMENTS_FILE).read_text())
    for r in reqs:
        if r["id"] == "UI-LED":
            r["simulated_only"] = True
    (run_dir / evidence.REQUIREMENTS_FILE).write_text(json.dumps(reqs))
    info = json.loads((run_dir / evidence.RUN_FILE).read_text())
    info["rig"]["simulated"] = False
    (run_dir / evidence.RUN_FILE).write_text(json.dumps(info))
    html = _render(run_dir)
    matrix = html[html.index("2. Requirement matrix") : html.index("3. Measurements")]
    row = matrix[matrix.index("<b>UI-LED</b>") :]
    row = row[: row.index("</tr>")]
    assert 'class="notverified">not verified</td>' in row and "only the simulated bench can decide it" in row
    assert "VERDICT: PASS (PARTIAL)" in _page1(html)


def test_allure_results_follow_the_verdict_rule(make_run) -> None:
    run_dir = make_run()
    results = run_dir / "allure-results"
    (results / "0a1d-result.json").write_text(
        json.dumps(
            {
                "name": "test_led_shows_meter_communication",
                "fullName": "testcases.test_ui#test_led_shows_meter_communication",
                "status": "failed",
                "statusDetails": {"message": "InstrumentUnreachable: dmm did not answer"},
            }
        )
    )
    _rewrite_tests(
        run_dir,
        **{
            "test_led_shows_meter_communication": {
                "outcome": "error",
                "error_kind": "bench",
                "message": "InstrumentUnreachable: dmm did not answer",
            }
        },
    )
    write_allure_metadata(run_dir, load_run(run_dir).info)
    doc = json.loads((results / "0a1d-result.json").read_text())
    assert doc["status"] == "broken" and doc["statusDetails"]["message"].startswith("[bench error] ")
    categories = json.loads((results / "categories.json").read_text())
    first = next(c for c in categories if "broken" in c["matchedStatuses"])
    assert first["name"] == "Rig problem" and re.fullmatch(
        first["messageRegex"], doc["statusDetails"]["message"]
    )
    assert not re.fullmatch(first["messageRegex"], "AssertionError: LED off")
    write_allure_metadata(run_dir, load_run(run_dir).info)  # idempotent: the mark is not doubled
    again = json.loads((results / "0a1d-result.json").read_text())["statusDetails"]["message"]
    assert again.count("[bench error]") == 1


def _signable_run(run_dir: Path, *, typed: str | None, certificates: dict[str, str]) -> None:
    info = json.loads((run_dir / evidence.RUN_FILE).read_text())
    info["typed_command"] = typed
    info["dut"]["serial"] = "LG-E350-0042"
    for inst in info["rig"]["instruments"]:
        inst["certificate"] = certificates.get(inst["name"])
    (run_dir / evidence.RUN_FILE).write_text(json.dumps(info))


def test_page1_carries_what_a_reviewer_signs(make_run, tmp_path) -> None:
    run_dir = make_run(fail_led=True)
    typed = 'cmi-hil run --rig rigs/sim.yaml --operator "lab operator A"'
    _signable_run(run_dir, typed=typed, certificates={"psu": "CAL-2026-0117", "dmm": "DAkkS D-K-15 0412"})
    html = _render(run_dir)
    pdf = tmp_path / "report.pdf"
    from harness.report.render import html_to_pdf

    pdf.write_bytes(html_to_pdf(render_html(report_context(load_run(run_dir)), pdf=True)))
    pages = _pdf_pages(pdf)
    page1 = re.sub(r"\s+", " ", pages[0])
    flat = page1.replace(" ", "")
    for expected in (
        "Document CMI-HIL-20261124-100000-sim",
        "LG-E350-0042",  # the label serial beside the telegram identity
        "12345678",
        "lab operator A",
        "temperature: 23.1 degC; humidity: 41 %RH",
        "CAL-2026-0117",
        "DAkkS D-K-15 0412",
        "not recorded",  # the relay card has no certificate id in the run record
        "ILAC G8:2019",
        "guard band w = U",
        "no coverage factor",
        "prepared by",
        "reviewed by",
        "approved by",
        "signature",
    ):
        assert expected.replace(" ", "") in flat, expected
    assert typed.replace(" ", "") in flat and "pytest arguments" not in page1
    assert "simple acceptance" in page1 and "not simple acceptance" in page1  # said as what it is not
    assert all("CMI-HIL-20261124-100000-sim" in p for p in pages), "the document id is on every page"
    # without the typed command the report says what it shows instead
    _signable_run(run_dir, typed=None, certificates={})
    html = _render(run_dir)
    cover = html_unescape(html[: html.index("2. Requirement matrix")])
    assert "pytest arguments; the cmi-hil command line was not recorded" in cover
    assert "CAL-2026-0117" not in cover and cover.count("not recorded</td>") == 3


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_transcript_appendix_is_its_own_sealed_file(finalized_fail_run: Path) -> None:
    run_dir = finalized_fail_run
    appendix = run_dir / "transcripts.html"
    assert appendix.is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    listed = json.dumps(manifest)
    assert "transcripts.html" in listed and "report.pdf" in listed
    assert verify_manifest(run_dir).ok
    text = appendix.read_text(encoding="utf-8")
    assert "Appendix A of CMI-HIL-" in text and "RSP_UD" in text and "REQ_UD2" in text
    assert text.count('<tr><td class="num small">') == 10, "every frame of both transcripts"
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert '<a href="transcripts.html">' in report and "RSP_UD" not in report
    digest = hashlib.sha256(appendix.read_bytes()).hexdigest()
    assert digest in report, "Appendix B names the appendix file by its SHA-256"
    pdf_text = "\n".join(_pdf_pages(run_dir / "report.pdf"))
    assert "transcripts.html" in pdf_text and "REQ_UD2" not in pdf_text
    # a changed appendix no longer matches its seal
    appendix.write_text(text.replace("RSP_UD", "RSP_XX", 1), encoding="utf-8")
    try:
        assert not verify_manifest(run_dir).ok
    finally:
        appendix.write_text(text, encoding="utf-8")
