"""Observability: Prometheus metrics, runtime-metrics log lines, Graphite push, health checks.

Importing this package decides where Prometheus' multiprocess files live, and
must happen before anything imports ``prometheus_client`` (which picks its
storage once, at import). See :mod:`app.observability.multiproc`.
"""

from __future__ import annotations

from app.observability.multiproc import ensure_multiproc_dir

ensure_multiproc_dir()
