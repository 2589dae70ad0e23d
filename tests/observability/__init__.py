"""Observability tests.

Imported before this folder's conftest and test modules: importing
app.observability sets PROMETHEUS_MULTIPROC_DIR before anything here imports
prometheus_client, which picks multiprocess mode (and its folder) once, at import.
"""

from app import observability  # noqa: F401
