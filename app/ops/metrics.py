"""Prometheus metrics: requests per route, latency, the database pool, and business gauges.

Each worker exposes its own figures at ``/metrics`` (scrape every worker, or run one).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.admission import GONE
from app.core.config import API_PREFIX


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ntm_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ntm_http_request_duration_seconds", "HTTP request duration", ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.pool_in_use = Gauge("ntm_db_pool_connections_in_use", "Database connections checked out",
                                 registry=self.registry)
        self.assessments = Gauge("ntm_assessments", "Assessments by workflow status", ["status"],
                                 registry=self.registry)
        self.cache_entries = Gauge("ntm_report_cache_entries", "Reports held in this worker's cache",
                                   registry=self.registry)
        self.waiting = Gauge("ntm_http_requests_waiting", "Requests waiting for a turn in this worker "
                             "(NTM_WORKER_CONCURRENCY)", registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST



GONE_LABEL = "gone-while-waiting"  # the route label of requests dropped before they ran (status 499)


class MetricsMiddleware:
    """Counts and times every request under its route template (``/api/v1/units/{code}``), so
    label values stay few; cache hits answered before routing count as ``cached-report``."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            template = getattr(scope.get("route"), "path", None)
            if template is None:
                label = "cached-report" if status == 200 else "unmatched"
            elif scope["path"].startswith(API_PREFIX) and not template.startswith(API_PREFIX):
                label = API_PREFIX + template  # included routers' routes carry paths without the prefix
            else:
                label = template
            if scope.get("state", {}).get(GONE):  # its client left while it waited for a turn: it never ran
                status, label = 499, GONE_LABEL
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(scope["method"], label).observe(time.perf_counter() - started)

