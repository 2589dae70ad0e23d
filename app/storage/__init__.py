"""Postgres storage: all of the app's SQL, one module per table (feeds, fetches, items,
imports), plus a fetch's outcome (outcomes), dashboard aggregates (stats), cursors
(pagination), the models and the session factory (db). Callers commit."""
