"""Which files of the reports folder the dashboard may serve, and the seal of a run folder.

Only files inside a run folder (a folder of the reports dir holding ``run.json``) are served, and only when
the resolved path (symlinks followed) stays inside that folder: ``..``, absolute paths, symlinks out of the
folder and the results database beside the run folders are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harness.evidence import MANIFEST_FILE, RUN_FILE
from harness.report.manifest import ManifestError, sha256_file, verify_manifest


class RefusedPath(ValueError):
    """A requested path that is not a file of a run folder; the message says why."""


def run_file(reports_dir: Path, relative: str) -> Path:
    """The file ``relative`` (``<run id>/<path in the run folder>``) under ``reports_dir``.

    Raises :class:`RefusedPath` for anything outside a run folder and :class:`FileNotFoundError` for a
    file that is not there.
    """
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".", "") for p in parts) or ":" in parts[0]:
        raise RefusedPath(f"{relative!r}: only paths <run id>/<file> inside a run folder are served")
    if len(parts) < 2:
        raise RefusedPath(f"{relative!r}: name a file inside a run folder, e.g. <run id>/report.html")
    root = reports_dir.resolve()
    run_dir = (root / parts[0]).resolve()
    if run_dir.parent != root or not (run_dir / RUN_FILE).is_file():
        raise FileNotFoundError(f"no run folder {parts[0]!r} under the reports folder")
    target = (run_dir / Path(*parts[1:])).resolve()
    if not target.is_relative_to(run_dir):
        raise RefusedPath(f"{relative!r} leads out of its run folder")
    if not target.is_file():
        raise FileNotFoundError(f"no file {'/'.join(parts[1:])!r} in run {parts[0]}")
    return target


@dataclass
class Seal:
    """State of a run folder's SHA-256 manifest."""

    sealed: bool
    ok: bool
    summary: str
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    #: the manifest's own digest equals the one the results database recorded at sealing (None: not recorded)
    matches_database: bool | None = None


def seal_of(run_dir: Path, recorded_sha256: str | None) -> Seal:
    """Check every artefact of ``run_dir`` against its manifest (what ``cmi-hil verify`` checks)."""
    manifest = run_dir / MANIFEST_FILE
    if not manifest.is_file():
        return Seal(False, False, "not sealed: no manifest.json (the run was not finalized)")
    try:
        check = verify_manifest(run_dir)
    except (ManifestError, OSError) as exc:
        return Seal(True, False, f"manifest unreadable: {exc}")
    matches = None if recorded_sha256 is None else sha256_file(manifest) == recorded_sha256
    ok = check.ok and matches is not False
    if check.ok:
        summary = f"sealed: {check.checked} file(s) match manifest.json"
    else:
        summary = (
            f"seal broken: {len(check.changed)} changed, {len(check.missing)} missing, "
            f"{len(check.added)} added since sealing"
        )
    if matches is False:
        summary += "; manifest.json differs from the digest the results database recorded at sealing"
    elif matches:
        summary += "; manifest digest matches the results database"
    return Seal(True, ok, summary, check.changed, check.missing, check.added, matches)
