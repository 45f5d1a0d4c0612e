"""Results database: every run's identity, verdicts and measurements, and the nightly comparison.

Public API: :func:`open_db`, :func:`store_run`, :func:`record_seal`, :func:`seal_history`,
:func:`compare_with_history`, :func:`measurement_series`, :class:`TrendPolicy`, :class:`Finding`,
:class:`Seal`, :class:`ResultsDbError`.
"""

from harness.results.seals import Seal, record_seal, seal_history, sealer
from harness.results.store import (
    DEFAULT_DB_FILE,
    ResultsDbError,
    db_url_for,
    open_db,
    store_run,
)
from harness.results.trend import (
    Comparison,
    Finding,
    Series,
    TrendPolicy,
    baseline,
    compare_with_history,
    drifted,
    latest_run_ids,
    measurement_series,
    robust_spread,
    slower,
)

__all__ = [
    "DEFAULT_DB_FILE",
    "Comparison",
    "Finding",
    "ResultsDbError",
    "Series",
    "TrendPolicy",
    "baseline",
    "compare_with_history",
    "db_url_for",
    "drifted",
    "latest_run_ids",
    "measurement_series",
    "open_db",
    "record_seal",
    "robust_spread",
    "Seal",
    "seal_history",
    "sealer",
    "slower",
    "store_run",
]
