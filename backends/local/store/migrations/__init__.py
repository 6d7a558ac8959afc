"""Alembic migrations of the store schema (store/tables.py); `Database` runs them at start."""
