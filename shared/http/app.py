"""The FastAPI app every service builds around its runtime: lifespan, errors, health."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fastapi import APIRouter, FastAPI

from shared.http.health import ReadinessCheck, TaskReport, health_router
from shared.http.openapi import declare_problem_responses
from shared.http.problems import install_problem_handlers


class Runtime(Protocol):
    """What the app needs of a service's runtime (``shared.runtime.ServiceRuntime``, which
    builds on this kit, so the kit names it only by shape)."""

    def lifespan(self, app: FastAPI, /) -> AbstractAsyncContextManager[None]: ...

    def readiness_checks(self) -> Mapping[str, ReadinessCheck]: ...

    def liveness(self) -> tuple[bool, Mapping[str, TaskReport]]: ...


def service_app(
    runtime: Runtime, *, title: str, description: str, routers: Sequence[APIRouter]
) -> FastAPI:
    app = FastAPI(title=title, version="1.0.0", description=description, lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness_checks(), runtime.liveness))
    for router in routers:
        app.include_router(router)
    declare_problem_responses(app)
    return app
