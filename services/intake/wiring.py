"""Composition root: builds intake's app from its settings."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.api.borrowers import borrowers_router
from services.intake.api.loans import loans_router
from services.intake.api.reports import reports_router
from services.intake.domain import LoanConflictError, LoanNotFoundError
from services.intake.lifecycle import LoanLifecycle
from services.intake.reporting import ReportIntake
from services.intake.sealing import Sealing
from services.intake.settings import IntakeSettings
from shared.crypto import KeyRing, Pseudonymizer
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.http.limits import BodySizeLimit
from shared.http.problems import problem_response
from shared.logging import configure_logging
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, MIGRATIONS)
    sealing = Sealing(
        storage=KeyRing.from_secret(settings.data_keys),
        transit=KeyRing.from_secret(settings.transit_keys),
        pseudonyms=Pseudonymizer.from_secret(settings.pseudonym_key),
    )
    intake = ReportIntake(sealing, runtime.topic(Topic.LOANS))
    lifecycle = LoanLifecycle(sealing, runtime.topic(Topic.LOANS))
    app = service_app(
        runtime,
        title="Collections intake",
        description="Lender-facing API: report overdue loans and everything that happens to "
        "them after. Every POST takes an `Idempotency-Key` header; errors are RFC 9457 "
        "problem+json naming each bad field.",
        routers=[
            reports_router(runtime, intake),
            loans_router(runtime, lifecycle),
            borrowers_router(runtime, lifecycle),
        ],
    )
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_body_bytes,
        limits={"/v1/overdue-loans/batch": settings.max_batch_body_bytes},
    )

    async def not_found(_request: Request, error: Exception) -> JSONResponse:
        return problem_response(404, "Not found", str(error))

    async def conflict(_request: Request, error: Exception) -> JSONResponse:
        return problem_response(409, "Conflict", str(error))

    app.add_exception_handler(LoanNotFoundError, not_found)
    app.add_exception_handler(LoanConflictError, conflict)
    return app


def served_app() -> FastAPI:
    """The app ``python -m services.intake`` serves, built in each worker process."""
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level, settings.log_json)
    return create_app(settings)
