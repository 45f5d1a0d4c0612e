"""Alembic revisions of the results database schema.

``0001`` is the schema of release 0.1.0 exactly (and adopts a database that release made, which has no
``alembic_version`` table); later revisions change it. :func:`harness.results.store.open_db` upgrades
every database it opens to the newest revision. To add a revision after changing
:mod:`harness.results.schema`::

    alembic -c harness/results/migrations/alembic.ini revision -m "what changes"
"""
