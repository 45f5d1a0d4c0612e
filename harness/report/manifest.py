"""SHA-256 manifest of a run folder: written last, so it seals every artefact of the run; checked by
``cmi-hil verify``, which names each file changed, missing or added since.

Every seal is also appended to the results database (:mod:`harness.results.seals`) with the manifest
text itself; :func:`check_against_seals` checks a folder against the run's original seal there, so a
folder altered and then re-sealed (`cmi-hil report --force`) still shows what changed (issue 12).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__
from harness.evidence import ALLURE_DIR, MANIFEST_FILE
from harness.report.allure import ALLURE_REPORT_DIR
from harness.results.seals import Seal

FORMAT = "cmi-hil-manifest/1"
_CHUNK = 1 << 20
#: files the report step itself (re)writes from the run's data; every other file is evidence data
REPORT_OUTPUTS = (
    "report.html",
    "report.pdf",
    "transcripts.html",  # the report's appendix A (harness.report.render.TRANSCRIPTS_APPENDIX)
    f"{ALLURE_DIR}/environment.properties",
    f"{ALLURE_DIR}/categories.json",
)
#: the report's plots attached to the Allure results (harness.report.allure.attach_plots)
PLOT_ATTACHMENTS = f"{ALLURE_DIR}/cmi-hil-plot-"


class ManifestError(ValueError):
    """The manifest is missing or unreadable; the message says what to do."""


def is_report_output(rel: str) -> bool:
    """Whether a run-folder file is rendered by `cmi-hil report` (re-rendering rewrites it)."""
    return rel in REPORT_OUTPUTS or rel.startswith((f"{ALLURE_REPORT_DIR}/", PLOT_ATTACHMENTS))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artefacts(run_dir: Path) -> list[str]:
    """Every file of the run folder except the manifest itself, as sorted POSIX paths relative to it."""
    found = []
    for root, dirs, files in os.walk(run_dir):
        dirs.sort()
        for name in files:
            rel = (Path(root) / name).relative_to(run_dir).as_posix()
            if rel != MANIFEST_FILE:
                found.append(rel)
    return sorted(found)


def write_manifest(
    run_dir: Path, *, run_id: str | None = None, reason: str | None = None, sealed_by: str | None = None
) -> Path:
    """Hash every artefact and write ``manifest.json``; returns its path. Call it after everything else.

    ``reason`` and ``sealed_by`` (user@host) say why and by whom the folder is sealed."""
    files = [
        {"path": rel, "sha256": sha256_file(run_dir / rel), "bytes": (run_dir / rel).stat().st_size}
        for rel in artefacts(run_dir)
    ]
    doc = {
        "format": FORMAT,
        "algorithm": "sha256",
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "reason": reason,
        "sealed_by": sealed_by,
        "files": files,
    }
    path = run_dir / MANIFEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a manifest
    return path


@dataclass
class ManifestCheck:
    """Result of checking a run folder against a manifest."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added)


def parse_manifest(text: str, source: str) -> dict[str, str]:
    """path -> sha256 from a manifest's text; ``source`` names it in the error."""
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise ManifestError(f"{source}: format {doc.get('format')!r}, expected {FORMAT!r}")
        return {entry["path"]: entry["sha256"] for entry in doc["files"]}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(
            f"{source}: unreadable manifest ({exc.__class__.__name__}: {exc}); the manifest itself "
            "was altered, so nothing in this folder can be verified against it"
        ) from exc


def read_manifest(run_dir: Path) -> dict[str, str]:
    """path -> sha256 from the run folder's manifest."""
    path = run_dir / MANIFEST_FILE
    if not path.exists():
        raise ManifestError(
            f"{path}: no manifest; the run was not finalized. Run `cmi-hil report {run_dir}` "
            "to render the report and seal the folder (only if its data is known to be untouched)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path}: unreadable manifest ({exc}); the manifest itself was altered, so nothing in this "
            "folder can be verified against it"
        ) from exc
    return parse_manifest(text, str(path))


def compare_files(run_dir: Path, expected: dict[str, str], present: Iterable[str]) -> ManifestCheck:
    """Compare the files ``present`` in the run folder with ``expected`` (path -> SHA-256)."""
    present = set(present)
    check = ManifestCheck()
    for rel, digest in sorted(expected.items()):
        if rel not in present:
            check.missing.append(rel)
            continue
        check.checked += 1
        if sha256_file(run_dir / rel) != digest:
            check.changed.append(rel)
    check.added = sorted(present - set(expected))
    return check


def verify_manifest(run_dir: Path) -> ManifestCheck:
    """Compare every file in the run folder with the manifest's SHA-256."""
    return compare_files(run_dir, read_manifest(run_dir), artefacts(run_dir))


@dataclass(frozen=True)
class SealHistory:
    """The seal history as the report shows it: the seals recorded before this rendering, and the seal
    this rendering is about to be part of (the manifest is written after the report)."""

    previous: list[Seal]
    reason: str  #: why the folder is sealed this time
    recorded: bool = True  #: the coming seal goes to a results database

    @property
    def next_seq(self) -> int:
        return len(self.previous) + 1


@dataclass
class SealCheck:
    """A run folder checked against its seal history in the results database.

    ``data``: the evidence data (every file but the report outputs) against ``reference``, the original
    seal (or, for a run sealed by release 0.1.0, which recorded only a digest, the earliest seal with
    per-file digests). ``outputs``: the rendered report against the latest seal. ``manifest_recorded``:
    the folder's manifest.json is one of the recorded seals (None: the folder has no manifest.json).
    """

    seals: list[Seal]
    reference: Seal | None
    data: ManifestCheck
    outputs: ManifestCheck
    manifest_recorded: bool | None
    tampered_seals: list[int] = field(default_factory=list)  #: seq of seals whose text lost its digest

    @property
    def original(self) -> Seal:
        return self.seals[0]

    @property
    def resealed(self) -> list[Seal]:
        return self.seals[1:]

    @property
    def ok(self) -> bool:
        return (
            self.data.ok
            and self.outputs.ok
            and self.manifest_recorded is not False
            and not self.tampered_seals
        )


def check_against_seals(run_dir: Path, seals: Sequence[Seal]) -> SealCheck:
    """Check ``run_dir`` against the recorded ``seals`` (original first; at least one)."""
    if not seals:
        raise ValueError("check_against_seals needs at least one recorded seal")
    seals = list(seals)
    present = artefacts(run_dir)
    manifest = run_dir / MANIFEST_FILE
    recorded: bool | None = None
    if manifest.exists():
        recorded = sha256_file(manifest) in {s.manifest_sha256 for s in seals}
    tampered = [s.seq for s in seals if not s.intact()]
    with_files = [s for s in seals if s.files() is not None]
    reference = with_files[0] if with_files else None
    data_present = [rel for rel in present if not is_report_output(rel)]
    output_present = [rel for rel in present if is_report_output(rel)]
    if reference is None:  # only a 0.1.0 digest: the folder's own manifest must be that seal
        data = verify_manifest(run_dir) if manifest.exists() else ManifestCheck(missing=[MANIFEST_FILE])
        return SealCheck(seals, None, data, ManifestCheck(), recorded, tampered)
    ref_files = reference.files() or {}
    data = compare_files(
        run_dir, {k: v for k, v in ref_files.items() if not is_report_output(k)}, data_present
    )
    latest_files = with_files[-1].files() or {}
    outputs = compare_files(
        run_dir, {k: v for k, v in latest_files.items() if is_report_output(k)}, output_present
    )
    return SealCheck(seals, reference, data, outputs, recorded, tampered)
