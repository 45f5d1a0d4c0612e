"""Exclusive lock per rig: a second run cannot take a rig that is in use.

``fcntl.flock`` on ``<lock dir>/<rig>.lock``: the kernel drops the lock when the holder exits or crashes, so
a stale lock file never blocks the next run. The holder writes its pid and command into the file and empties
it on release, so a file still naming a holder when the lock is free was left by a run that crashed or was
SIGKILLed: :attr:`RigLock.recovered_from` says which, and the bench is made safe before anything else.
Lock dir: ``$CMI_HIL_LOCK_DIR`` or ``<tmp>/cmi-hil-locks``.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from pathlib import Path


class RigBusy(Exception):
    """The rig is held by another run."""


def lock_dir() -> Path:
    return Path(os.environ.get("CMI_HIL_LOCK_DIR") or Path(tempfile.gettempdir()) / "cmi-hil-locks")


class RigLock:
    def __init__(self, rig_name: str, *, directory: Path | None = None) -> None:
        self.rig_name = rig_name
        self.path = (directory or lock_dir()) / f"{rig_name}.lock"
        self._fd: int | None = None
        #: the holder named in the lock file when it was taken free: a run that ended without releasing
        self.recovered_from: str | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip() or "unknown process"
            os.close(fd)
            raise RigBusy(
                f"rig {self.rig_name!r} is in use by {holder} (lock {self.path}); wait for that run to "
                "finish or stop it. A crashed holder releases the lock by itself."
            ) from None
        left = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip()
        self.recovered_from = left or None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:400]}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RigLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
