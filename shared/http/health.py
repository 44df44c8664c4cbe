"""``/healthz`` (the process and its background tasks are alive) and ``/readyz`` (what this
service's entry points need answers). Both answer 200 or 503 with the same report, which the
OpenAPI document declares for both statuses."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

ReadinessCheck = Callable[[], Awaitable[bool]]
TaskReport = Mapping[str, object]
# Each background task's state, and whether the process is alive (no task crash-looping).
Liveness = Callable[[], tuple[bool, Mapping[str, TaskReport]]]


class TaskStatus(BaseModel):
    """One background task (the outbox relay, a consumer group, the credential feed...)."""

    running: bool
    returned: bool = Field(description="It has ended; a task meant to run for good is failing")
    restarts: int = Field(description="Failures since the process started, each restarted")
    crash_looping: bool = Field(description="Failing again and again soon after each start")
    broker_failures_in_a_row: int = Field(
        description="Its last failures were Kafka unreachable: retried, never a crash loop"
    )
    last_error: str | None


class LivenessReport(BaseModel):
    status: Literal["ok", "failing"]
    tasks: dict[str, TaskStatus]


class ReadinessReport(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Literal["ok", "failing"]] = Field(
        description="database, credentials (the key registry read), consumers (groups joined)"
    )


def _declared(model: type[BaseModel], failing: str) -> dict[int | str, dict[str, Any]]:
    return {503: {"model": model, "description": failing}}


def health_router(checks: Mapping[str, ReadinessCheck], liveness: Liveness) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        summary="Liveness: the process answers and no background task is crash-looping",
        response_model=LivenessReport,
        responses=_declared(LivenessReport, "A background task crash-loops or has stopped"),
    )
    async def healthz() -> JSONResponse:
        alive, tasks = liveness()
        return JSONResponse(
            {"status": "ok" if alive else "failing", "tasks": tasks},
            status_code=200 if alive else 503,
        )

    @router.get(
        "/readyz",
        summary="Readiness: what this service's entry points need is up",
        response_model=ReadinessReport,
        responses=_declared(ReadinessReport, "Something an entry point needs is failing"),
    )
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(check() for check in checks.values()))
        report = {name: "ok" if ok else "failing" for name, ok in zip(checks, results, strict=True)}
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report},
            status_code=200 if ready else 503,
        )

    return router
