"""The FastAPI app every service builds around its runtime: lifespan, errors, health, metrics
(``GET /metrics`` for operators, every request counted and timed), and a limit on request
bodies, checked before any of a body is read (a caller that is not authenticated yet cannot
make a service buffer more than that)."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from shared.db.engine import SessionFactory
from shared.http.health import ReadinessCheck, TaskReport, health_router
from shared.http.limits import BodySizeLimit
from shared.http.metrics import Gate, HttpMetrics, metrics_router, on_scrape, outbox_refresh
from shared.http.openapi import declare_problem_responses
from shared.http.problems import install_problem_handlers
from shared.observability.tracing import instrument_app


class TracingSettings(Protocol):
    @property
    def otlp_endpoint(self) -> str: ...


class Runtime(Protocol):
    """What the app needs of a service's runtime (``shared.runtime.ServiceRuntime``, which
    builds on this kit, so the kit names it only by shape)."""

    @property
    def name(self) -> str: ...

    @property
    def settings(self) -> TracingSettings: ...

    @property
    def reads(self) -> SessionFactory:
        """What ``/metrics`` reads the outbox's backlog with."""

    def lifespan(self, app: FastAPI, /) -> AbstractAsyncContextManager[None]: ...

    def readiness_checks(self) -> Mapping[str, ReadinessCheck]: ...

    def liveness(self) -> tuple[bool, Mapping[str, TaskReport]]: ...

    def operator_gate(self) -> Gate:
        """The dependency admitting operator keys only (``/metrics``)."""
        ...


def service_app(
    runtime: Runtime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    max_body_bytes: int,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """``max_body_bytes``: the largest body of any request; ``body_limits``: another limit for
    some paths (exact paths)."""
    app = FastAPI(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=runtime.lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness_checks(), runtime.liveness))
    for router in routers:
        app.include_router(router)
    app.include_router(metrics_router(runtime.operator_gate()))
    on_scrape(app.state, outbox_refresh(runtime.name, runtime.reads))
    declare_problem_responses(app)
    app.add_middleware(BodySizeLimit, default_limit=max_body_bytes, limits=body_limits)
    instrument_app(app, runtime.name, runtime.settings.otlp_endpoint)
    app.add_middleware(HttpMetrics, service=runtime.name)  # outermost: a 413 is counted too
    return app


def operation_id(route: APIRoute) -> str:
    """A route's operation id is its function's name (``list_assignments``), the name a client
    generated from the document gives the call; FastAPI's default appends the path and method.
    Unique per service: tests/unit/test_api_documents.py checks every service's."""
    return route.name
