"""Composition root: builds the agency gateway's app from its settings.

The placement policy is loaded and checked here, before anything starts: a bad value stops
the service at once, naming the file and the key.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.agency_gateway.adapters.activities import ActivityTexts
from services.agency_gateway.adapters.assignment_list import AssignmentList
from services.agency_gateway.adapters.contact_details import ContactKeys
from services.agency_gateway.adapters.legal import LegalNotes
from services.agency_gateway.adapters.policy_file import load_policy
from services.agency_gateway.adapters.unit_of_work import GatewayUnitOfWork
from services.agency_gateway.adapters.webhook_poster import SignedWebhookPoster
from services.agency_gateway.adapters.webhooks import seal_secret, webhook_log_rules
from services.agency_gateway.api import (
    agencies,
    assignments,
    commitments,
    legal,
    placements,
    webhooks,
)
from services.agency_gateway.api.dependencies import GatewayApplication
from services.agency_gateway.api.errors import answer_refusals
from services.agency_gateway.application.agencies import AgencyHandlers
from services.agency_gateway.application.assignments import AssignmentHandlers
from services.agency_gateway.application.cases import CaseQueries
from services.agency_gateway.application.commitments import CommitmentHandlers
from services.agency_gateway.application.legal import LegalStageHandlers
from services.agency_gateway.application.lifecycle import LifecycleHandlers
from services.agency_gateway.application.personal_data import (
    ContactRetention,
    DataRequestHandlers,
)
from services.agency_gateway.application.placement import PlacementHandlers
from services.agency_gateway.application.ports import UnitOfWork
from services.agency_gateway.application.webhooks import WebhookDeliveries
from services.agency_gateway.consumer import GROUP, event_handlers
from services.agency_gateway.domain.contact_check import banned_phrases
from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.workers import PlacementWorker, RetentionWorker, WebhookWorker
from shared.auth import Role
from shared.contact_rules import load_pack
from shared.crypto import KeyRing
from shared.db.backoff import backoff
from shared.events.borrowers import seal_answer
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime
from shared.vocabulary import Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER, Role.AGENCY, Role.OPERATOR)  # the roles whose keys the gateway serves


def create_app(settings: AgencyGatewaySettings | None = None) -> FastAPI:
    settings = settings or AgencyGatewaySettings()
    policy = load_policy(settings.placement_policy_file)
    packs = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
    keys = contact_keys(settings)
    runtime = ServiceRuntime("agency_gateway", settings, MIGRATIONS, ROLES)
    for rule in webhook_log_rules(timedelta(days=settings.webhook_log_retention_days)):
        runtime.retain(rule)
    units = runtime.units_of_work(GatewayUnitOfWork)
    unit_of_work: Callable[[], UnitOfWork] = units
    placement_handlers = PlacementHandlers(policy)
    lifecycle = LifecycleHandlers(
        policy, keys, placement=placement_handlers if settings.placement_in_consumer else None
    )
    data_requests = DataRequestHandlers(keys, partial(seal_answer, keys.transit))
    handlers = event_handlers(lifecycle, data_requests)
    runtime.consume(GROUP, [Topic.LOANS, Topic.NOTIFICATIONS], handlers, units)
    placement = PlacementWorker(
        unit_of_work,
        placement_handlers,
        batch_size=settings.placement_batch_size,
        idle_pause=settings.placement_idle_seconds,
    )
    runtime.work("placement", placement.run)
    deliveries = webhook_deliveries(runtime, settings, keys.storage, unit_of_work)
    webhook_worker = WebhookWorker(
        unit_of_work, deliveries, idle_pause=settings.webhook_idle_seconds
    )
    runtime.work("webhooks", webhook_worker.run)
    retention = RetentionWorker(
        unit_of_work,
        ContactRetention(timedelta(days=settings.contact_retention_days)),
        batch_size=settings.contact_retention_batch_size,
        idle_pause=settings.contact_retention_idle_seconds,
    )
    runtime.work("contact-retention", retention.run)
    app = service_app(
        runtime,
        title="Collections agency gateway",
        description="Placements with collection agencies and the agency API.",
        routers=[
            placements.router,
            assignments.router,
            commitments.router,
            legal.router,
            agencies.router,
            webhooks.router,
        ],
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.authenticator = runtime.auth
    banned = banned_phrases(packs.values())
    app.state.gateway = GatewayApplication(
        assignments=AssignmentHandlers(
            unit_of_work,
            contacts=keys,
            texts=ActivityTexts(keys.storage),
            packs=packs,
            banned=banned,
        ),
        assignment_list=AssignmentList(runtime.reads),
        commitments=CommitmentHandlers(unit_of_work, policy),
        cases=CaseQueries(unit_of_work, policy),
        agencies=AgencyHandlers(unit_of_work, partial(seal_secret, keys.storage)),
        webhooks=deliveries,
        legal=LegalStageHandlers(unit_of_work, policy, LegalNotes(keys.storage), banned),
    )
    answer_refusals(app)
    return app


def webhook_deliveries(
    runtime: ServiceRuntime,
    settings: AgencyGatewaySettings,
    storage: KeyRing,
    unit_of_work: Callable[[], UnitOfWork],
) -> WebhookDeliveries:
    client = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    runtime.close_on_stop(client.aclose)
    return WebhookDeliveries(
        unit_of_work,
        SignedWebhookPoster(client, storage),
        partial(
            backoff,
            initial=timedelta(seconds=settings.webhook_initial_backoff_seconds),
            maximum=timedelta(seconds=settings.webhook_max_backoff_seconds),
        ),
        max_attempts=settings.webhook_max_attempts,
    )


def contact_keys(settings: AgencyGatewaySettings) -> ContactKeys:
    """The transit ring that opens contacts in events, and the gateway's own data ring."""
    return ContactKeys(
        transit=KeyRing.from_secret(settings.transit_keys), storage=settings.data_key_ring()
    )
