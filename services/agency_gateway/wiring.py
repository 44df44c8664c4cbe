"""Composition root: builds the agency gateway's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.agency_gateway.adapters.contacts import ContactKeys
from services.agency_gateway.api import placements_router
from services.agency_gateway.consumer import GROUP, gateway_handlers
from services.agency_gateway.domain import PlacementPolicy
from services.agency_gateway.settings import AgencyGatewaySettings
from shared.auth import Role
from shared.crypto import KeyRing
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER, Role.AGENCY)  # the roles whose keys the gateway serves


def create_app(settings: AgencyGatewaySettings | None = None) -> FastAPI:
    settings = settings or AgencyGatewaySettings()
    runtime = ServiceRuntime("agency_gateway", settings, MIGRATIONS, ROLES)
    policy = PlacementPolicy(threshold_days=settings.placement_threshold_days)
    runtime.consume(GROUP, [Topic.LOANS], gateway_handlers(policy, contact_keys(settings)))
    return service_app(
        runtime,
        title="Collections agency gateway",
        description="Placements with collection agencies and the agencies' handoff API.",
        routers=[placements_router(runtime, policy)],
    )


def contact_keys(settings: AgencyGatewaySettings) -> ContactKeys:
    """The transit ring that opens contacts in events, and the gateway's own data ring."""
    return ContactKeys(
        transit=KeyRing.from_secret(settings.transit_keys), storage=settings.data_key_ring()
    )
