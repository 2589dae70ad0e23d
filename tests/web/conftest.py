from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database
from tests.conftest import signed_in
from tests.greader import PREFIXES, Reader, sign_in


@pytest.fixture
def app_without_private(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    """A client of an app with the private-network guard on (the production default)."""
    app = create_app(replace(settings, fetch_allow_private_networks=False))
    yield signed_in(app)
    feedqueue.of(app).close()


@pytest.fixture
def client_with_dead_redis(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    """A client of an app whose Redis is unreachable (a closed loopback port)."""
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    yield signed_in(app)
    feedqueue.of(app).close()


@pytest.fixture(params=PREFIXES, ids=["root", "greader.php"])
def reader(
    request: pytest.FixtureRequest,
    make_app: Callable[..., Flask],
    db: Database,
    settings: Settings,
) -> Reader:
    """A Google Reader app signed in as "reader", at the root paths and under
    /api/greader.php."""
    return sign_in(make_app().test_client(), db, settings, prefix=request.param)
