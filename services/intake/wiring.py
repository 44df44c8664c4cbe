"""Composition root: builds intake's app from its settings."""

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.intake.adapters.unit_of_work import SqlUnitOfWork
from services.intake.api import borrower_site, borrowers, disputes, loans, me, reports
from services.intake.api.borrower_security import (
    BorrowerSite,
    BorrowerSiteGuard,
    LinkCsrf,
    TokenGuessing,
)
from services.intake.api.dependencies import IntakeApplication
from services.intake.api.errors import answer_refusals
from services.intake.application.borrower_desk import BorrowerDesk
from services.intake.application.borrower_events import BorrowerEvents
from services.intake.application.borrower_side import BorrowerSide
from services.intake.application.command_bus import CommandBus
from services.intake.application.handlers import IntakeHandlers
from services.intake.application.sealing import Sealing
from services.intake.consumer import GROUP, TOPICS, IntakeConsumer
from services.intake.settings import IntakeSettings
from shared.auth import Role
from shared.crypto import KeyRing, Pseudonymizer
from shared.db.retention import RetentionRule
from shared.http.app import operation_id, service_app
from shared.http.health import ReadinessCheck, health_router
from shared.http.limits import BodySizeLimit
from shared.http.metrics import HttpMetrics, metrics_router
from shared.http.openapi import declare_problem_responses
from shared.http.problems import install_problem_handlers
from shared.logging import configure_logging
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER, Role.OPERATOR)  # the roles whose keys intake serves (operators: /metrics)


class IntakeRuntime(ServiceRuntime):
    """Intake's readiness stays its database and its credentials: its consumer feeds the
    borrower's side and what a lender reads (disputes, the holder), never a lender's writes,
    so a broker away never takes intake out of the load balancer."""

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks = dict(super().readiness_checks())
        checks.pop("consumers", None)
        return checks


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = IntakeRuntime("intake", settings, MIGRATIONS, ROLES)
    runtime.retain(
        RetentionRule(
            "idempotency_keys",
            "idempotency_keys",
            "created_at < :cutoff",
            timedelta(hours=settings.idempotency_retention_hours),
        )
    )
    sealing = sealing_from(settings)
    unit_of_work = runtime.units_of_work(SqlUnitOfWork)
    app = service_app(
        runtime,
        title="Collections intake",
        description="Lender-facing API: report overdue loans and everything that happens to "
        "them after. Every POST takes an `Idempotency-Key` header; errors are RFC 9457 "
        "problem+json naming each bad field.",
        routers=[reports.router, loans.router, disputes.router, borrowers.router],
        max_body_bytes=settings.max_body_bytes,
        body_limits={"/v1/overdue-loans/batch": settings.max_batch_body_bytes},
    )
    app.state.authenticator = runtime.auth
    app.state.intake = IntakeApplication(
        commands=CommandBus(unit_of_work, IntakeHandlers(sealing)), unit_of_work=unit_of_work
    )
    runtime.consume(GROUP, TOPICS, IntakeConsumer(BorrowerEvents(sealing)).handlers(), unit_of_work)
    answer_refusals(app)
    return app


def borrower_desk(settings: IntakeSettings, runtime: ServiceRuntime) -> BorrowerDesk:
    """What the borrowers' site serves, on ``runtime``'s database and topics."""
    sealing = sealing_from(settings)
    return BorrowerSide(
        runtime.units_of_work(SqlUnitOfWork),
        IntakeHandlers(sealing),
        sealing,
        settings.borrower_links(),
        settings.lender_names,
        timedelta(days=settings.data_request_due_days),
    )


def sealing_from(settings: IntakeSettings) -> Sealing:
    return Sealing(
        storage=KeyRing.from_secret(settings.data_keys),
        transit=KeyRing.from_secret(settings.transit_keys),
        pseudonyms=Pseudonymizer.from_secret(settings.pseudonym_key),
    )


def served_app() -> FastAPI:
    """The app ``python -m services.intake`` serves, built in each worker process."""
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level, settings.log_json)
    return create_app(settings)


def create_borrower_app(
    settings: IntakeSettings | None = None, desk: BorrowerDesk | None = None
) -> FastAPI:
    """The borrowers' site (their page ``/b/<token>`` and ``/v1/me``), a public entry point of
    its own on ``borrower_http_port``; ``desk``: what it calls (tests give a fake one)."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime("intake", settings, MIGRATIONS, (Role.OPERATOR,))  # /metrics
    if desk is None:
        desk = borrower_desk(settings, runtime)
    app = FastAPI(
        title="Collections intake: the borrowers' site",
        version="1.0.0",
        description="What a borrower reaches from the link in every message: their page "
        "`/b/<token>` (HTML) and this JSON API, with the link's token as bearer "
        "(`Authorization: Bearer <token>`). Errors are RFC 9457 problem+json naming each bad "
        "field; an expired or revoked token is a 410.",
        lifespan=runtime.lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # Swagger UI loads scripts from elsewhere: the site's CSP allows none
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    borrower_site.answer_link_refusals(app)
    borrower_site.answer_form_refusals(app)
    app.include_router(health_router(runtime.readiness_checks(), runtime.liveness))
    app.include_router(borrower_site.router)
    app.include_router(me.router)
    app.include_router(metrics_router(runtime.operator_gate()))
    declare_problem_responses(app)
    app.add_middleware(BodySizeLimit, default_limit=settings.max_body_bytes)
    app.add_middleware(
        BorrowerSiteGuard, style_hash=borrower_site.STYLE_HASH, error_page=borrower_site.error_page
    )
    app.add_middleware(HttpMetrics, service="intake-borrower")
    app.state.borrower_site = BorrowerSite(
        desk=desk,
        csrf=LinkCsrf.from_link_keys(settings.link_keys.get_secret_value()),
        guessing=TokenGuessing(),
        base_url=settings.borrower_base_url,
        lender_names=settings.lender_names,
    )
    return app


def served_borrower_app() -> FastAPI:
    """The app ``python -m services.intake borrower`` serves, built in each worker process."""
    settings = IntakeSettings()
    configure_logging("intake-borrower", settings.log_level, settings.log_json)
    return create_borrower_app(settings)
