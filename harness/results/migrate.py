"""Schema upgrades of the results database with Alembic (revisions in :mod:`harness.results.migrations`).

:func:`upgrade` brings any database this harness can read to the newest revision: an empty one, one
made by release 0.1.0 (no ``alembic_version`` table yet) or one at an older revision. A database at a
revision this harness does not know was upgraded by a newer harness and is refused with that message.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaError(RuntimeError):
    """The database's schema revision is unknown to this harness; the message says what to do."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest schema revision this harness writes."""
    head = _scripts().get_current_head()
    assert head is not None, "no Alembic revisions shipped with the harness"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for an empty database or one made by release 0.1.0."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest) in one transaction."""
    current = current_revision(engine)
    if current is not None:
        try:
            _scripts().get_revision(current)
        except CommandError as exc:
            raise SchemaError(
                f"the results database is at schema revision {current!r}, which this harness does not "
                f"know (its newest is {head_revision()!r}): a newer cmi-hil upgraded it. Update cmi-hil "
                "on this machine, or pass --db with another database"
            ) from exc
    if revision == "head" and current == head_revision():
        return
    with engine.connect() as conn:
        command.upgrade(_config(conn), revision)
        conn.commit()
