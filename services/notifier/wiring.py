"""Composition root: builds notifier's app from its settings."""

from pathlib import Path

from fastapi import FastAPI

from services.notifier.api import notifications_router
from services.notifier.consumer import GROUP, notifier_handlers
from services.notifier.settings import NotifierSettings
from shared.auth import Role
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER,)  # the roles whose keys the notifier serves


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime("notifier", settings or NotifierSettings(), MIGRATIONS, ROLES)
    runtime.consume(GROUP, [Topic.LOANS], notifier_handlers())
    return service_app(
        runtime,
        title="Collections notifier",
        description="Reminders to borrowers under the contact rules, and their outcomes.",
        routers=[notifications_router(runtime)],
    )
