"""Composition root: builds intake's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import reports_router
from services.intake.reporting import ReportIntake, Sealing
from services.intake.settings import IntakeSettings
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime("intake", settings or IntakeSettings(), MIGRATIONS)
    sealing = Sealing(
        storage=runtime.storage_keys(),
        transit=runtime.transit_keys(),
        pseudonyms=runtime.pseudonymizer(),
    )
    intake = ReportIntake(sealing, runtime.topic(Topic.DELINQUENCY))
    return service_app(
        runtime,
        title="Collections intake",
        description="Lender-facing API: report overdue loans and their lifecycle.",
        routers=[reports_router(runtime, intake)],
    )
