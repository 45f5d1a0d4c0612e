"""Alembic environment of the results database: runs the revisions on the connection that
:func:`harness.results.migrate.upgrade` hands over, in one transaction.

Several rigs may open a fresh database at the same moment: on SQLite the transaction takes the write
lock up front (BEGIN IMMEDIATE, see :mod:`harness.results.store`), on PostgreSQL a transaction-scoped
advisory lock serialises them, so each revision runs once and the others find the schema current.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from harness.results.schema import Base

#: pg_advisory_xact_lock key of schema upgrades (any constant shared by every harness version)
PG_MIGRATION_LOCK = 0x434D_4948_494C  # "CMIHIL"


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:  # the alembic command line (writing a revision): the URL of alembic.ini
    with create_engine(context.config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
        conn.commit()
