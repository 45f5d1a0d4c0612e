"""The seal history of a run folder: every manifest.json that sealed it, in the results database.

A seal is appended when a run is finalized and again whenever `cmi-hil report` re-seals the folder
(with ``--force`` and a reason when its evidence data no longer matched). Seals are never replaced:
the first one is the reference `cmi-hil verify` checks the folder against, so data altered and then
re-sealed still shows (issue 12, evidence integrity).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from harness.results.schema import RunRow, SealRow
from harness.results.store import with_retry


@dataclass(frozen=True)
class Seal:
    """One seal of a run folder, as recorded."""

    seq: int  #: 1 = the original seal
    sealed_at: str  #: ISO 8601, UTC
    sealed_by: str | None  #: user@host
    reason: str
    manifest_sha256: str
    manifest_json: str | None  #: None for a digest recorded by release 0.1.0

    def files(self) -> dict[str, str] | None:
        """path -> SHA-256 as this seal's manifest lists them; None when only the digest was recorded or
        the stored manifest text no longer hashes to the recorded digest (then it proves nothing)."""
        if self.manifest_json is None or not self.intact():
            return None
        doc = json.loads(self.manifest_json)
        return {entry["path"]: entry["sha256"] for entry in doc["files"]}

    def intact(self) -> bool:
        """The stored manifest text hashes to the recorded digest."""
        if self.manifest_json is None:
            return True
        return hashlib.sha256(self.manifest_json.encode("utf-8")).hexdigest() == self.manifest_sha256


def sealer() -> str:
    """user@host of this process (the uid when the user has no name, as in some containers)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def record_seal(
    engine: Engine,
    run_id: str,
    *,
    manifest_json: str,
    reason: str,
    sealed_by: str | None = None,
    sealed_at: str | None = None,
) -> Seal:
    """Append a seal to the run's history (the run must be stored already) and return it.

    ``manifest_json``: the manifest.json text exactly as written (its SHA-256 is the seal's digest).
    Appends of one run are serialised (row lock on PostgreSQL, the write lock on SQLite).
    """
    digest = hashlib.sha256(manifest_json.encode("utf-8")).hexdigest()
    when = sealed_at or datetime.now(UTC).isoformat(timespec="seconds")
    who = sealed_by if sealed_by is not None else sealer()

    def write() -> Seal:
        with Session(engine) as session, session.begin():
            pk = session.scalar(select(RunRow.pk).where(RunRow.run_id == run_id).with_for_update())
            if pk is None:
                raise LookupError(f"run {run_id!r} is not in the results database; store it before sealing")
            last = session.scalar(select(func.max(SealRow.seq)).where(SealRow.run_pk == pk)) or 0
            row = SealRow(
                run_pk=pk,
                seq=last + 1,
                sealed_at=when,
                sealed_by=who,
                reason=reason,
                manifest_sha256=digest,
                manifest_json=manifest_json,
            )
            session.add(row)
            return Seal(row.seq, when, who, reason, digest, manifest_json)

    return with_retry(write, what=f"recording a seal of run {run_id}")


def seal_history(engine: Engine, run_id: str) -> list[Seal] | None:
    """The run's seals, original first; None when the run is not in the database."""
    with Session(engine) as session:
        pk = session.scalar(select(RunRow.pk).where(RunRow.run_id == run_id))
        if pk is None:
            return None
        rows = session.scalars(select(SealRow).where(SealRow.run_pk == pk).order_by(SealRow.seq))
        return [
            Seal(r.seq, r.sealed_at, r.sealed_by, r.reason, r.manifest_sha256, r.manifest_json) for r in rows
        ]
