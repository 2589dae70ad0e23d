"""Serves the API description (docs/openapi.yaml) at GET /openapi.yaml."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("docs", __name__)

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@bp.get("/openapi.yaml")
def openapi() -> Response:
    """The OpenAPI 3.1 document of the JSON API, as written in the repository."""
    response = Response(OPENAPI_PATH.read_bytes(), mimetype="application/yaml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
