"""Composition root: builds the agency gateway's app from its settings.

The placement policy is loaded and checked here, before anything starts: a bad value stops
the service at once, naming the file and the key.
"""

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.agency_gateway.adapters.activities import ActivityTexts
from services.agency_gateway.adapters.contacts import ContactKeys
from services.agency_gateway.adapters.webhooks import webhook_log_rules
from services.agency_gateway.api.agencies import agencies_router
from services.agency_gateway.api.assignments import assignments_router
from services.agency_gateway.api.commitments import commitments_router
from services.agency_gateway.api.placements import placements_router
from services.agency_gateway.api.webhooks import webhooks_router
from services.agency_gateway.commitments import CommitmentDesk
from services.agency_gateway.consumer import GROUP, GatewayConsumer
from services.agency_gateway.domain.handoff import banned_phrases
from services.agency_gateway.domain.policy import PlacementPolicy
from services.agency_gateway.handoff import Handoff
from services.agency_gateway.placement import Placer
from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.webhooks import WebhookSender
from shared.auth import Role
from shared.contact_rules import load_pack
from shared.crypto import KeyRing
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime
from shared.vocabulary import Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER, Role.AGENCY, Role.OPERATOR)  # the roles whose keys the gateway serves


def create_app(settings: AgencyGatewaySettings | None = None) -> FastAPI:
    settings = settings or AgencyGatewaySettings()
    policy = PlacementPolicy.load(settings.placement_policy_file)
    packs = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
    keys = contact_keys(settings)
    runtime = ServiceRuntime("agency_gateway", settings, MIGRATIONS, ROLES)
    for rule in webhook_log_rules(timedelta(days=settings.webhook_log_retention_days)):
        runtime.retain(rule)
    assignments_topic = runtime.topic(Topic.ASSIGNMENTS)
    consumer = GatewayConsumer(policy, keys, assignments_topic)
    runtime.consume(
        GROUP,
        [Topic.LOANS, Topic.NOTIFICATIONS],
        consumer.handlers(),
        runtime.units_of_work(UnitOfWork),
    )
    placer = Placer(
        runtime.sessions,
        policy,
        assignments_topic,
        batch_size=settings.placement_batch_size,
        idle_pause=settings.placement_idle_seconds,
    )
    runtime.work("placement", placer.run)
    handoff = Handoff(
        runtime=runtime,
        keys=keys,
        texts=ActivityTexts(keys.storage),
        packs=packs,
        banned=banned_phrases(packs.values()),
        assignments_topic=assignments_topic,
        activities_topic=runtime.topic(Topic.AGENCY_ACTIVITIES),
    )
    runtime.work("webhooks", webhook_sender(runtime, settings, keys.storage).run)
    desk = CommitmentDesk(
        runtime.sessions, policy, assignments_topic, runtime.topic(Topic.AGENCY_ACTIVITIES)
    )
    app = service_app(
        runtime,
        title="Collections agency gateway",
        description="Placements with collection agencies and the agencies' handoff API.",
        routers=[
            placements_router(runtime, policy),
            assignments_router(handoff),
            commitments_router(desk),
            agencies_router(runtime, keys.storage),
            webhooks_router(runtime),
        ],
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.authenticator = runtime.auth
    return app


def webhook_sender(
    runtime: ServiceRuntime, settings: AgencyGatewaySettings, storage: KeyRing
) -> WebhookSender:
    client = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    runtime.close_on_stop(client.aclose)
    return WebhookSender(
        sessions=runtime.sessions,
        storage=storage,
        client=client,
        max_attempts=settings.webhook_max_attempts,
        initial_backoff=timedelta(seconds=settings.webhook_initial_backoff_seconds),
        max_backoff=timedelta(seconds=settings.webhook_max_backoff_seconds),
        idle_pause=settings.webhook_idle_seconds,
    )


def contact_keys(settings: AgencyGatewaySettings) -> ContactKeys:
    """The transit ring that opens contacts in events, and the gateway's own data ring."""
    return ContactKeys(
        transit=KeyRing.from_secret(settings.transit_keys), storage=settings.data_key_ring()
    )
