"""Prometheus metrics, one registry per app (tests create many apps in one process)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "yakuba_http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "yakuba_http_request_duration_seconds",
            "Time until the last byte of the response (streams included).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "yakuba_answers", "Answers given (chat and chat/completions) by engine.", ["engine"],
            registry=self.registry,
        )
        self.abstentions = Counter(
            "yakuba_abstentions", "Answers that abstained (nothing relevant found or unsupported).", ["engine"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "yakuba_uploaded_files", "Uploaded files by ingest status.", ["status"], registry=self.registry
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_answer(self, engine: str, abstained: bool) -> None:
        self.answers.labels(engine).inc()
        if abstained:
            self.abstentions.labels(engine).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
