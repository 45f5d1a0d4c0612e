"""SHA-256 manifest: `cmi-hil verify` names every file changed, missing or added after the run was sealed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.report import finalize_run, verify_manifest, write_manifest
from harness.report.manifest import ManifestError, sha256_file
from harness.results import open_db, seal_history


@pytest.fixture
def sealed(make_run) -> Path:
    run_dir = make_run()
    write_manifest(run_dir, run_id=run_dir.name)
    return run_dir


def test_manifest_lists_every_artefact_but_itself(sealed: Path) -> None:
    doc = json.loads((sealed / "manifest.json").read_text())
    paths = {f["path"] for f in doc["files"]}
    assert "manifest.json" not in paths
    assert {"run.json", "measurements.jsonl", "tests.jsonl", "requirements.json"} <= paths
    assert any(p.startswith("transcripts/") for p in paths) and any(
        p.startswith("allure-results/") for p in paths
    )
    for f in doc["files"]:
        assert f["sha256"] == sha256_file(sealed / f["path"])


def test_untouched_folder_verifies(sealed: Path, capsys) -> None:
    assert verify_manifest(sealed).ok
    assert main(["verify", str(sealed)]) == 0
    assert "OK: " in capsys.readouterr().out


def test_one_flipped_byte_fails_verify_and_names_the_file(sealed: Path, capsys) -> None:
    target = sealed / "measurements.jsonl"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    check = verify_manifest(sealed)
    assert check.changed == ["measurements.jsonl"] and not check.missing and not check.added
    assert main(["verify", str(sealed)]) == 1
    assert "CHANGED  measurements.jsonl" in capsys.readouterr().out


def test_removed_and_added_files_fail_verify(sealed: Path, capsys) -> None:
    transcript = next((sealed / "transcripts").glob("*.jsonl"))
    transcript.unlink()
    (sealed / "allure-results" / "extra-result.json").write_text("{}")
    check = verify_manifest(sealed)
    assert check.missing == [f"transcripts/{transcript.name}"]
    assert check.added == ["allure-results/extra-result.json"]
    assert main(["verify", str(sealed)]) == 1
    out = capsys.readouterr().out
    assert "MISSING" in out and "ADDED" in out and "1 missing, 1 added" in out


def test_missing_or_altered_manifest_is_a_clear_error(make_run, sealed: Path, capsys) -> None:
    unsealed = make_run(run_id="unsealed")
    with pytest.raises(ManifestError, match="no manifest"):
        verify_manifest(unsealed)
    assert main(["verify", str(unsealed)]) == 2
    (sealed / "manifest.json").write_text("{not json")
    assert main(["verify", str(sealed)]) == 2
    err = capsys.readouterr().err
    assert "unreadable manifest" in err and "Traceback" not in err


def test_report_command_refuses_to_reseal_altered_evidence(make_run, capsys) -> None:
    run_dir = make_run()
    db = run_dir.parent / "r.sqlite"
    assert main(["report", str(run_dir), "--db", str(db)]) == 0
    (run_dir / "tests.jsonl").write_text(
        (run_dir / "tests.jsonl").read_text().replace('"failed"', '"passed"') + "\n"
    )
    assert main(["report", str(run_dir), "--db", str(db)]) == 1
    assert "no longer matches its manifest (tests.jsonl)" in capsys.readouterr().err
    assert not verify_manifest(run_dir).ok  # the altered folder stays detectably altered
    assert main(["report", str(run_dir), "--db", str(db), "--force"]) == 2  # --force needs a reason
    assert "needs --reason TEXT" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--db", str(db), "--force", "--reason", "lab test"]) == 0
    assert verify_manifest(run_dir).ok  # the new manifest agrees with the folder...
    assert main(["verify", str(run_dir), "--db", str(db)]) == 1  # ...the original seal does not
    assert "altered after sealing" in capsys.readouterr().out


def test_report_allure_without_cli_says_how_to_install(make_run, monkeypatch, capsys) -> None:
    monkeypatch.setattr("harness.report.allure.allure_cli", lambda: None)
    run_dir = make_run()
    assert main(["report", str(run_dir), "--allure", "--db", str(run_dir.parent / "r.sqlite")]) == 3
    assert "npm install -g allure" in capsys.readouterr().err
    assert verify_manifest(run_dir).ok


def test_a_folder_resealed_after_the_run_fails_verify_against_the_database(make_run, capsys) -> None:
    run_dir = make_run()
    assert finalize_run(run_dir) == 0  # seals and records the manifest digest in reports/results.sqlite
    assert main(["verify", str(run_dir)]) == 0
    assert "match the original seal of" in capsys.readouterr().out
    tests = run_dir / "tests.jsonl"
    tests.write_text(tests.read_text().replace('"passed"', '"failed"', 1))
    write_manifest(run_dir, run_id=run_dir.name)  # someone re-seals the altered folder by hand
    assert verify_manifest(run_dir).ok  # the files agree with the new manifest...
    assert main(["verify", str(run_dir)]) == 1  # ...but not with the digest recorded when the run was sealed
    out = capsys.readouterr().out
    assert "MANIFEST manifest.json" in out and "re-sealed after the run" in out


def _change_a_byte_of_a_value(path: Path) -> None:
    """Change one digit of the first recorded value (the line stays valid JSON, the run still loads)."""
    data = bytearray(path.read_bytes())
    at = data.index(b'"value":') + len(b'"value":')
    while not chr(data[at]).isdigit() or data[at] == ord("0"):
        at += 1
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


def test_a_forced_reseal_adds_a_seal_and_verify_still_reports_the_change(make_run, capsys) -> None:
    run_dir = make_run()
    assert finalize_run(run_dir) == 0  # seal 1, in reports/results.sqlite beside the run
    _change_a_byte_of_a_value(run_dir / "measurements.jsonl")
    assert main(["report", str(run_dir), "--force", "--reason", "reading corrected by hand"]) == 0
    assert verify_manifest(run_dir).ok  # the new manifest agrees with the altered folder...
    capsys.readouterr()
    assert main(["verify", str(run_dir)]) == 1  # ...the original seal does not
    out = capsys.readouterr().out
    assert "CHANGED  measurements.jsonl  (SHA-256 differs from the original seal of" in out
    assert "FAILED: altered after sealing: 1 changed, 0 missing, 0 added" in out
    assert re.search(
        r"^sealed on [-\d]+ [:+\d]+: sealed at the end of the run \(seal 1, by \S+@\S+\)$", out, re.M
    )
    reseal = (
        r"^re-sealed on [-\d]+ [:+\d]+: re-sealed with altered evidence data \(measurements.jsonl\): reading"
    )
    assert re.search(reseal + r" corrected by hand \(seal 2, by \S+\)$", out, re.M)
    engine = open_db(run_dir.parent / "results.sqlite")
    try:
        seals = seal_history(engine, run_dir.name) or []
    finally:
        engine.dispose()
    assert [s.seq for s in seals] == [1, 2] and "measurements.jsonl" in seals[1].reason
    html = (run_dir / "report.html").read_text()  # the re-rendered report shows the history
    assert "Seal history" in html and "sealed at the end of the run" in html
    assert "reading corrected by hand" in html and seals[0].manifest_sha256 in html
    # without the database only manifest.json is left to check against, and verify says so
    (run_dir.parent / "results.sqlite").rename(run_dir.parent / "elsewhere.sqlite")
    assert main(["verify", str(run_dir)]) == 0
    assert "checked against manifest.json alone" in capsys.readouterr().out
    assert main(["verify", str(run_dir), "--db", str(run_dir.parent / "elsewhere.sqlite")]) == 1


def test_a_rerendered_report_is_a_reseal_and_its_outputs_are_checked_against_it(make_run, capsys) -> None:
    run_dir = make_run()
    assert finalize_run(run_dir) == 0
    assert main(["report", str(run_dir)]) == 0  # intact data: re-rendered, sealed again
    capsys.readouterr()
    assert main(["verify", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "OK: " in out and "re-sealed on" in out and "report re-rendered" in out
    html = run_dir / "report.html"
    html.write_text(html.read_text().replace("PASS", "FAIL", 1))  # the report edited after its seal
    (run_dir / "transcripts" / "extra.jsonl").write_text("{}\n")  # and evidence slipped in
    assert main(["verify", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "CHANGED  report.html  (SHA-256 differs from the latest seal (2," in out
    assert "ADDED    transcripts/extra.jsonl  (in the folder, not in the original seal" in out
    # the history itself edited in the database (past its append-only triggers) shows too
    import sqlite3

    with sqlite3.connect(run_dir.parent / "results.sqlite") as conn:
        conn.execute("DROP TRIGGER seals_append_only_update")
        conn.execute(
            "UPDATE seals SET manifest_json = replace(manifest_json, 'sha256', 'SHA256') WHERE seq = 1"
        )
    assert main(["verify", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED seal 1" in out and "the original seal's stored manifest was altered" in out


def test_a_run_sealed_by_release_0_1_0_is_verified_against_its_recorded_digest(make_run, capsys) -> None:
    from sqlalchemy import create_engine, text

    from harness.results.migrate import upgrade

    run_dir = make_run()
    write_manifest(run_dir, run_id=run_dir.name)
    db = run_dir.parent / "results.sqlite"
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine, "0001")  # the 0.1.0 tables: one digest per run, no seal history
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (run_id, rig, rig_file, simulated, faults, instruments_json, started,"
                " nightly, harness_version, manifest_sha256) VALUES (:run, 'sim', 'rigs/sim.yaml', 1, '',"
                " '[]', '2026-11-24T10:00:00+00:00', 0, '0.1.0', :digest)"
            ),
            {"run": run_dir.name, "digest": sha256_file(run_dir / "manifest.json")},
        )
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    assert main(["verify", str(run_dir)]) == 0  # opening the database upgrades it; the digest is seal 1
    out = capsys.readouterr().out
    assert "recorded only the manifest's digest" in out and "OK: " in out
    tests = run_dir / "tests.jsonl"
    tests.write_text(tests.read_text().replace('"passed"', '"failed"', 1))
    write_manifest(run_dir, run_id=run_dir.name)  # altered and re-sealed by hand
    assert main(["verify", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "MANIFEST manifest.json" in out and "altered after sealing" in out


@pytest.mark.skipif(shutil.which("allure") is None, reason="Allure CLI not installed (npm install -g allure)")
def test_report_allure_renders_the_allure_report_and_seals_it(make_run, capsys) -> None:
    run_dir = make_run()
    assert main(["report", str(run_dir), "--allure", "--db", str(run_dir.parent / "r.sqlite")]) == 0
    assert (run_dir / "allure-report" / "index.html").is_file()
    assert "Allure report:" in capsys.readouterr().out
    assert verify_manifest(run_dir).ok  # the Allure report is listed in the manifest too
    sealed_paths = [f["path"] for f in json.loads((run_dir / "manifest.json").read_text())["files"]]
    assert "allure-report/index.html" in sealed_paths
