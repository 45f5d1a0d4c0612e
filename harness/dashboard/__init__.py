"""`cmi-hil serve`: the lab's dashboard over the results database and the run folders (read-only).

Public API: :func:`create_app`.
"""

from harness.dashboard.app import create_app

__all__ = ["create_app"]
