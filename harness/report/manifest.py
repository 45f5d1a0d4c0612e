"""SHA-256 manifest of a run folder: written last, so it seals every artefact of the run; checked by
``cmi-hil verify``, which names each file changed, missing or added since.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__
from harness.evidence import MANIFEST_FILE

FORMAT = "cmi-hil-manifest/1"
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """The manifest is missing or unreadable; the message says what to do."""


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


def write_manifest(run_dir: Path, *, run_id: str | None = None) -> Path:
    """Hash every artefact and write ``manifest.json``; returns its path. Call it after everything else."""
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
        "files": files,
    }
    path = run_dir / MANIFEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a manifest
    return path


@dataclass
class ManifestCheck:
    """Result of checking a run folder against its manifest."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added)


def read_manifest(run_dir: Path) -> dict[str, str]:
    """path -> sha256 from the run folder's manifest."""
    path = run_dir / MANIFEST_FILE
    if not path.exists():
        raise ManifestError(
            f"{path}: no manifest; the run was not finalized. Run `cmi-hil report {run_dir}` "
            "to render the report and seal the folder (only if its data is known to be untouched)"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ManifestError(f"{path}: format {doc.get('format')!r}, expected {FORMAT!r}")
        return {entry["path"]: entry["sha256"] for entry in doc["files"]}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"{path}: unreadable manifest ({exc.__class__.__name__}: {exc}); the manifest itself "
            "was altered, so nothing in this folder can be verified"
        ) from exc


def verify_manifest(run_dir: Path) -> ManifestCheck:
    """Compare every file in the run folder with the manifest's SHA-256."""
    expected = read_manifest(run_dir)
    present = set(artefacts(run_dir))
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
