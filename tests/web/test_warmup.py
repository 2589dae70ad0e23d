"""A web process runs the submission path once before its first request, keeping nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from app.extensions import feedqueue, limiter
from app.storage.db import Database
from app.storage.models import Feed, Fetch
from app.web.warmup import warm_up


def test_warming_up_opens_a_pooled_connection_and_loads_the_limiters_script(
    make_app: Callable[..., Flask], db: Database, redis: Redis
) -> None:
    app = make_app()
    storage = limiter.limiter.storage
    assert feedqueue.of(app).db.engine.pool.checkedin() == 0
    # Scripts are server-wide: forget them (callers of a forgotten script reload it).
    redis.script_flush()
    warm_up(app)
    assert feedqueue.of(app).db.engine.pool.checkedin() == 1  # opened, and back in the pool
    assert redis.script_exists(storage.lua_incr_expire_ttl.sha) == [True]


def test_warming_up_keeps_no_feed_and_no_fetch(
    make_app: Callable[..., Flask], db: Database, redis: Redis
) -> None:
    warm_up(make_app())
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feed)) == 0
        assert session.scalar(select(func.count()).select_from(Fetch)) == 0
    assert redis.dbsize() == 0  # nothing queued, nothing counted


def test_warming_up_compiles_every_page_template(
    make_app: Callable[..., Flask], db: Database, redis: Redis
) -> None:
    app = make_app()
    warm_up(app)
    compiled = {name for _loader, name in app.jinja_env.cache.keys()}  # type: ignore[union-attr]
    assert compiled == set(app.jinja_env.list_templates())
