"""HTTP side of the metrics (``shared.observability.metrics``): a middleware counting and
timing every request by its route template, and ``GET /metrics`` for operators, which first
reads gauges of stored state (``on_scrape``: the outbox's backlog, the audit log's head)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db.engine import SessionFactory
from shared.kafka.outbox import backlog
from shared.observability.metrics import HTTP_DURATION, HTTP_REQUESTS, set_outbox_state

log = structlog.get_logger(__name__)

UNMATCHED = "unmatched"  # the route label of a request no route matches (bounded cardinality)
Gate = Callable[..., Awaitable[object]]  # a role gate (shared.auth.RoleGate) admitting operators


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (``/v1/loans/{loan_id}``), never the raw
    path; a request refused before routing (a body too large) is matched against the app's
    routes; one no route matches is ``unmatched``. A mounted app's route has the mount's
    prefix (``/console/loans/{loan_id}``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        # Under a mounted app (compliance's console at /console) the route is the app's own:
        # the mount's prefix is what root_path gained below the server's.
        root: str = scope.get("root_path", "")
        prefix = root[len(scope.get("app_root_path", root)) :]
        return prefix + path
    for context in iter_route_contexts(getattr(scope.get("app"), "routes", ())):
        match, _ = context.matches(scope)
        if match is not Match.NONE and context.path:
            return str(context.path)
    return UNMATCHED


class HttpMetrics:
    """Pure ASGI middleware: counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self._app = app
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, observing_send)
        finally:
            route, method = route_template(scope), scope["method"]
            HTTP_REQUESTS.labels(self._service, method, route, str(status)).inc()
            HTTP_DURATION.labels(self._service, method, route).observe(
                time.perf_counter() - started
            )


Refresh = Callable[[], Awaitable[None]]
SCRAPE_REFRESH_SECONDS = 5.0


def on_scrape(state: Any, refresh: Refresh) -> None:
    """Have ``/metrics`` run ``refresh`` (set gauges of stored state) before it answers;
    ``state``: the app's ``app.state``."""
    if not hasattr(state, "metrics_refreshers"):
        state.metrics_refreshers = []
    state.metrics_refreshers.append(refresh)


def metrics_router(gate: Gate) -> APIRouter:
    """``GET /metrics`` in Prometheus' text format, for callers ``gate`` admits (operators)."""
    router = APIRouter()

    @router.get(
        "/metrics",
        include_in_schema=False,  # Prometheus' text format, not part of the JSON API
        response_class=Response,
    )
    async def metrics(request: Request, _: Annotated[object, Depends(gate)]) -> Response:
        for refresh in getattr(request.app.state, "metrics_refreshers", ()):
            try:
                await asyncio.wait_for(refresh(), SCRAPE_REFRESH_SECONDS)
            except Exception as error:  # the gauge keeps its last value; the scrape goes on
                log.warning("metrics refresh failed", error=repr(error))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def outbox_refresh(service: str, sessions: SessionFactory) -> Refresh:
    """Reads the service's outbox backlog into its gauges (at scrape time)."""

    async def refresh() -> None:
        state = await backlog(sessions)
        set_outbox_state(service, state.pending, state.parked, state.oldest_age_seconds)

    return refresh
