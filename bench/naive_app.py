"""The article's "non-scalable approach": fetch and parse the feed inside the web request.

``create_naive_app()`` is feedqueue's own app plus ``POST /naive/feeds``, which runs
the very pipeline the worker runs (``fetch_feed`` then ``store_items``) before
answering. Served by the same gunicorn configuration, so the only difference
measured is where the fetch happens.

Run: ``gunicorn --config gunicorn.conf.py "bench.naive_app:create_naive_app()"``.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from app import create_app
from app.context import fetch_limits
from app.pipeline import FetchError, fetch_feed
from app.storage.feeds import upsert_feed
from app.storage.items import store_items
from app.urls import InvalidURL, normalize_url
from app.web.helpers import db_session, public, settings


def create_naive_app() -> Flask:
    """feedqueue's app with an in-request submit route at ``POST /naive/feeds``."""
    app = create_app()

    # The baseline measures fetching in the request, not accounts: anyone may call it.
    @app.post("/naive/feeds")
    @public
    def naive_submit() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        try:
            url = normalize_url(body.get("url") if isinstance(body, dict) else None)
        except InvalidURL as exc:
            return jsonify(error={"code": exc.code, "message": exc.message}), 400
        session = db_session()
        feed, _ = upsert_feed(session, url)
        session.commit()
        # The slow part, done while the client (and a gunicorn thread) waits.
        try:
            result = fetch_feed(url, fetch_limits(settings()))
        except FetchError as err:
            return jsonify(error={"code": err.code, "message": err.message}), 502
        counts = store_items(session, feed.id, result.feed.items if result.feed else [])
        session.commit()
        return jsonify(feed_id=feed.id, items_new=counts.new, items_updated=counts.updated), 200

    return app
