"""``/healthz`` (the process and its background tasks are alive) and ``/readyz`` (what this
service's entry points need answers)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]
TaskReport = Mapping[str, object]
# Each background task's state, and whether the process is alive (no task crash-looping).
Liveness = Callable[[], tuple[bool, Mapping[str, TaskReport]]]


def health_router(checks: Mapping[str, ReadinessCheck], liveness: Liveness) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        summary="Liveness: the process answers and no background task is crash-looping",
    )
    async def healthz() -> JSONResponse:
        alive, tasks = liveness()
        return JSONResponse(
            {"status": "ok" if alive else "failing", "tasks": tasks},
            status_code=200 if alive else 503,
        )

    @router.get("/readyz", summary="Readiness: what this service's entry points need is up")
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(check() for check in checks.values()))
        report = {name: "ok" if ok else "failing" for name, ok in zip(checks, results, strict=True)}
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report},
            status_code=200 if ready else 503,
        )

    return router
