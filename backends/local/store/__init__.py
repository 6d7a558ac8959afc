"""The metadata store: SQLite by default, PostgreSQL when it grows (SQLAlchemy 2, Alembic).

    db.py          engine, sessions, retries and migrations
    tables.py      the schema (ORM tables); migrations/ mirrors it
    lookups.py     lookups every project-scoped service shares
"""
