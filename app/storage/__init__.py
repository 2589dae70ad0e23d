"""Postgres storage: models, the session factory and the functions that write rows."""
