"""Composition root: builds intake's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import reports_router
from services.intake.reporting import ReportIntake, Sealing
from services.intake.settings import IntakeSettings
from shared.events.topics import Topic
from shared.http.health import health_router
from shared.http.problems import install_problem_handlers
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, MIGRATIONS)
    sealing = Sealing(
        storage=runtime.storage_keys(),
        transit=runtime.transit_keys(),
        pseudonyms=runtime.pseudonymizer(),
    )
    intake = ReportIntake(sealing, runtime.topic(Topic.DELINQUENCY))
    app = FastAPI(
        title="Collections intake",
        version="1.0.0",
        description="Lender-facing API: report overdue loans and their lifecycle.",
        lifespan=runtime.lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness_checks()))
    app.include_router(reports_router(runtime, intake))
    return app
