"""HTTP layer: blueprints for pages and the JSON API. Thin: no business logic here."""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy.orm import Session

from app.config import Settings
from app.queue.queues import Queues
from app.storage.db import Database


def settings() -> Settings:
    return current_app.extensions["feedqueue.settings"]


def queues() -> Queues:
    return current_app.extensions["feedqueue.queues"]


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        database: Database = current_app.extensions["feedqueue.db"]
        g.db_session = database.sessionmaker()
    return g.db_session


def wants_json() -> bool:
    """True when the client asked for JSON rather than a page."""
    if request.path.startswith(("/api/", "/fetches/")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"
