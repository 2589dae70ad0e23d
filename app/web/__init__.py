"""HTTP layer: blueprints for pages and the JSON API. Thin: no business logic here.

Blueprints read the request, call app.services (writes) or app.storage (reads),
and shape the answer. What they share is in :mod:`app.web.helpers`; they never
import each other.
"""

from __future__ import annotations

from flask import Flask

from app.config import Settings


def register(app: Flask, settings: Settings) -> None:
    """Install the error handlers, the security policies and every blueprint on ``app``."""
    from app.web import (
        account,
        api,
        auth,
        dashboard,
        docs,
        errors,
        feed_actions,
        fever,
        greader,
        health,
        icons,
        media,
        opml,
        pages,
        reader_api,
        river,
        security,
        submit,
        websub,
    )

    errors.register(app)
    media.init_app(app)
    security.init_app(app, settings)
    auth.init_app(app)
    for module in (
        health,
        auth,
        account,
        pages,
        river,
        submit,
        feed_actions,
        icons,
        opml,
        dashboard,
        api,
        reader_api,
        fever,
        websub,
        docs,
    ):
        app.register_blueprint(module.bp)
    # The Google Reader API at the root (Miniflux's, Inoreader's paths) and under FreshRSS's.
    app.register_blueprint(greader.bp)
    app.register_blueprint(greader.bp, url_prefix="/api/greader.php", name="greader_php")
