"""The proxy's Prometheus metrics, named after Envoy's fault filter where one exists.

==================================================  ======================================
metric                                              what
==================================================  ======================================
``chaoskit_proxy_requests_total{upstream}``         requests routed to an upstream
``chaoskit_proxy_responses_total{upstream,class}``  answers by status class (``2xx``, ...;
                                                    ``broken``: a connection dropped)
``chaoskit_proxy_faults_injected_total{fault,upstream}``  injections by catalog id
``chaoskit_proxy_aborts_injected_total{upstream}``  injections that fail the request
``chaoskit_proxy_delays_injected_total{upstream}``  injections that delay it
``chaoskit_proxy_active_faults``                    faults on now
``chaoskit_proxy_faults_overflow_total``            adds refused for max_active_faults
``chaoskit_proxy_faults_expired_total``             faults removed by their TTL
``chaoskit_proxy_refused_total{reason}``            requests refused (unknown upstream,
                                                    fault header without the token)
``chaoskit_proxy_upstream_latency_seconds{upstream}``  time to the real server's headers
==================================================  ======================================

Labels hold upstream names and catalog ids only: never a header, a URL or a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._fault import Fault

__all__ = ["Metrics"]

_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """One registry per proxy (so tests can run several), and the proxy seam's observer."""

    def __init__(self, active: Callable[[], int], overflows: Callable[[], int]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("chaoskit_proxy_requests", "Requests routed to an upstream", ["upstream"], registry=r)
        self.responses = Counter("chaoskit_proxy_responses", "Answers by status class", ["upstream", "class"], registry=r)
        self.injected = Counter("chaoskit_proxy_faults_injected", "Injections by catalog id", ["fault", "upstream"], registry=r)
        self.aborts = Counter("chaoskit_proxy_aborts_injected", "Injections that fail the request", ["upstream"], registry=r)
        self.delays = Counter("chaoskit_proxy_delays_injected", "Injections that delay the request", ["upstream"], registry=r)
        self.expired = Counter("chaoskit_proxy_faults_expired", "Faults removed by their time-to-live", registry=r)
        self.refusals = Counter("chaoskit_proxy_refused", "Requests the proxy refused", ["reason"], registry=r)
        self.latency = Histogram("chaoskit_proxy_upstream_latency_seconds", "Time to the real server's response headers",
                                 ["upstream"], buckets=_BUCKETS, registry=r)
        Gauge("chaoskit_proxy_active_faults", "Faults on now", registry=r).set_function(active)
        overflow = Gauge("chaoskit_proxy_faults_overflow_total", "Fault adds refused for max_active_faults", registry=r)
        overflow.set_function(overflows)

        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: a label lookup costs more than the increment."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # ---- the seam's observer ----
    def request(self, upstream: str) -> None:
        self._child(self.requests, upstream).inc()

    def answered(self, upstream: str, status: int | None, fault: Fault | None, upstream_seconds: float | None) -> None:
        self._child(self.responses, upstream, "broken" if status is None else _CLASSES.get(status // 100, "other")).inc()
        if fault is not None:
            self.injected.labels(fault.id, upstream).inc()
            (self.delays if fault.effect.startswith("latency") else self.aborts).labels(upstream).inc()
        elif upstream_seconds is not None:
            self._child(self.latency, upstream).observe(upstream_seconds)

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
