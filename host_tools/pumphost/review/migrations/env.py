"""Alembic environment: runs on the connection pumphost.review.db.migrate hands in."""

from alembic import context

from pumphost.review.db import metadata

conn = context.config.attributes["connection"]
context.configure(connection=conn, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
