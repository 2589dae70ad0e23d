"""docs/openapi.yaml is served by the app and the app keeps to it (schemathesis).

Schemathesis generates valid and invalid requests for every operation and checks
that the app never answers 5xx and that every answer matches the document
(status codes, content types, headers, bodies).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings

from app.services.accounts import create_token
from app.storage.db import Database
from tests.conftest import ROOT, add_user, signed_in

DOC = ROOT / "docs" / "openapi.yaml"


def test_the_app_serves_the_repository_openapi_document(client: FlaskClient) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.data == Path(DOC).read_bytes()


def test_the_document_is_openapi_3_1_and_describes_the_json_api() -> None:
    doc = yaml.safe_load(DOC.read_text())
    assert doc["openapi"].startswith("3.1")
    operations = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert operations >= {
        ("POST", "/feeds"),
        ("GET", "/fetches/{fetch_id}"),
        ("GET", "/api/feeds"),
        ("GET", "/api/feeds/{feed_id}"),
        ("GET", "/api/feeds/{feed_id}/items"),
        ("POST", "/feeds/{feed_id}/refresh"),
        ("GET", "/healthz"),
    }
    submit = doc["paths"]["/feeds"]["post"]["responses"]
    assert {"202", "400", "413", "415", "429", "503"} <= set(submit)
    assert "Location" in submit["202"]["headers"]
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]


def test_the_202_and_each_poll_carry_the_documented_polling_hint(
    make_app: Callable[..., Flask],
) -> None:
    doc = yaml.safe_load(DOC.read_text())
    hint = "#/components/headers/PollAfter"
    paths = doc["paths"]
    assert paths["/feeds"]["post"]["responses"]["202"]["headers"]["Retry-After"]["$ref"] == hint
    poll_headers = paths["/fetches/{fetch_id}"]["get"]["responses"]["200"]["headers"]
    assert poll_headers["Retry-After"]["$ref"] == hint
    pattern = doc["components"]["headers"]["PollAfter"]["schema"]["pattern"]
    # As deployed: a per-client limit with a one-minute and a one-hour window.
    client = signed_in(make_app(submit_rate_limit="30 per minute;300 per hour"))
    accepted = client.post("/feeds", json={"url": "https://example.com/polled"})
    poll = client.get(accepted.headers["Location"])
    for response in (accepted, poll):
        assert re.fullmatch(pattern, response.headers["Retry-After"])


def test_every_documented_path_exists_in_the_app(app: Flask) -> None:
    doc = yaml.safe_load(DOC.read_text())
    rules = {
        (method, rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    for path, item in doc["paths"].items():
        for method in item:
            assert (method.upper(), path) in rules, (method, path)


_PATHS = yaml.safe_load(DOC.read_text())["paths"]
# Negative cases need something to break: parameters or a body.
CASES = [
    (f"{method.upper()} {path}", mode)
    for path, item in _PATHS.items()
    for method, operation in item.items()
    for mode in schemathesis.GenerationMode
    if mode == schemathesis.GenerationMode.POSITIVE
    or operation.get("parameters")
    or operation.get("requestBody")
]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{m.value}-{op}" for op, m in CASES])
@pytest.mark.usefixtures("cheap_password_checks")  # its auth checks send made-up names
def test_the_api_keeps_to_its_openapi_document(
    make_app: Callable[..., Flask], db: Database, label: str, mode: schemathesis.GenerationMode
) -> None:
    # CSRF on, as in production: the document describes what JSON clients get. The
    # client is a person with an API token.
    with db.session() as session:
        token = create_token(session, add_user(db), "schemathesis").secret
    # Schemathesis also sends wrong credentials, many times: a budget above its count
    # keeps them 401 (the failed sign-in limit has its own tests).
    app = make_app(login_rate_limit="100000 per minute")
    schema = schemathesis.openapi.from_wsgi("/openapi.yaml", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        # Schema-valid is not the same as acceptable: a string "url" may still be
        # no feed address, and the app rightly answers 400 invalid_url.
        case.call_and_validate(
            headers={"Accept": "application/json", "Authorization": f"Bearer {token}"},
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )

    check()
