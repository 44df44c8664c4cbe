"""The FastAPI app every service builds around its runtime: lifespan, errors, health."""

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from shared.http.health import health_router
from shared.http.problems import install_problem_handlers
from shared.runtime import ServiceRuntime


def service_app(
    runtime: ServiceRuntime, *, title: str, description: str, routers: Sequence[APIRouter]
) -> FastAPI:
    app = FastAPI(title=title, version="1.0.0", description=description, lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness_checks()))
    for router in routers:
        app.include_router(router)
    return app
