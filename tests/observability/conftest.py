"""Fixtures for the observability tests: an app whose /metrics takes a token, and a scraper."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from app import create_app
from app.config import Settings
from app.extensions import feedqueue
from app.storage.db import Database

TOKEN = "metrics-test-token"
# Own queues: a burst worker of these tests takes only these tests' jobs, even
# when other suites share the Redis database.
QUEUE_PREFIX = "feedqueue-obstest"
SUBMISSIONS = f"{QUEUE_PREFIX}-submissions"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="session", autouse=True)
def _multiprocess_mode() -> None:
    assert values.ValueClass._multiprocess, "prometheus_client was imported too early"


@pytest.fixture
def metrics_settings(settings: Settings) -> Settings:
    return replace(settings, metrics_token=TOKEN, queue_prefix=QUEUE_PREFIX)


@pytest.fixture
def app(metrics_settings: Settings, db: Database, redis: Redis) -> Iterator[Flask]:
    """The app under test, with METRICS_TOKEN set (overrides the shared fixture)."""
    flask_app = create_app(metrics_settings)
    flask_app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield flask_app
    feedqueue.of(flask_app).close()


def parse(text: str) -> Samples:
    """Exposition text -> {(sample name, labels): value}."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one series (whichever dyno), 0 when absent (a counter not yet moved)."""
    wanted = set(labels.items())
    return sum(
        v
        for (n, lbls), v in samples.items()
        if n == name and {kv for kv in lbls if kv[0] != "dyno"} == wanted
    )


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


@pytest.fixture
def scrape(client: FlaskClient) -> Callable[[], Samples]:
    """GET /metrics with the token and parse it."""

    def run() -> Samples:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.data[:500]
        return parse(response.get_data(as_text=True))

    return run


@pytest.fixture
def worker_extra_env() -> dict[str, str]:
    """For worker processes: the metrics folder this process's /metrics reads, our queues."""
    return {
        "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"],
        "QUEUE_PREFIX": QUEUE_PREFIX,
    }
