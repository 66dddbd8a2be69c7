"""The Alembic migrations build exactly the schema of the models (review/db.py): a database
upgraded to head and the tables the code reads and writes must not drift apart."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pumphost.review import db


def test_the_migrations_at_head_match_the_models(db_url: str) -> None:
    eng = db.engine(db_url)
    db.migrate(eng)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    eng.dispose()
    assert diff == [], diff
