"""Evidence report of a run: HTML + PDF, Allure metadata, SHA-256 manifest, results database.

Public API: :func:`finalize_run` (called at the end of ``cmi-hil run``), :func:`load_run`,
:func:`write_report`, :func:`write_manifest`, :func:`verify_manifest`, :func:`store_run_data`.
"""

from harness.report.finalize import finalize_run, store_run_data
from harness.report.manifest import ManifestCheck, ManifestError, verify_manifest, write_manifest
from harness.report.render import write_report
from harness.report.rundata import RunData, RunFolderError, load_run

__all__ = [
    "ManifestCheck",
    "ManifestError",
    "RunData",
    "RunFolderError",
    "finalize_run",
    "store_run_data",
    "load_run",
    "verify_manifest",
    "write_manifest",
    "write_report",
]
