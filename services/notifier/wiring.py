"""Composition root: builds notifier's app from its settings.

Policies and templates are loaded and checked here, before anything starts: a bad policy or a
template with a banned phrase stops the service at once, naming the file and the key.
"""

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.notifier.adapters.contacts import ContactVault
from services.notifier.adapters.providers.callbacks import callback_parsers
from services.notifier.adapters.providers.dispatch import build_dispatchers
from services.notifier.api import notifications, receipts
from services.notifier.composer import MessageComposer
from services.notifier.consumer import GROUP, LifecycleConsumer
from services.notifier.domain.outreach import notifier_pack
from services.notifier.domain.policy_book import PolicyBook
from services.notifier.domain.template_checks import banned_phrases
from services.notifier.domain.templates import TemplateCatalog
from services.notifier.receipts import Receipts
from services.notifier.sender import Sender
from services.notifier.settings import NotifierSettings
from shared.auth import Role
from shared.contact_rules import RulePack, load_pack
from shared.crypto import KeyRing
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime
from shared.vocabulary import Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER,)  # the roles whose keys the notifier serves


def load_rules(
    settings: NotifierSettings,
) -> tuple[dict[Jurisdiction, RulePack], TemplateCatalog, PolicyBook]:
    """The rule packs, templates and policies, each checked (a bad one raises, naming it)."""
    packs = {j: notifier_pack(load_pack(j)) for j in Jurisdiction}
    banned = {jurisdiction: banned_phrases(pack) for jurisdiction, pack in packs.items()}
    templates = TemplateCatalog.load(settings.templates_dir, banned)
    return packs, templates, PolicyBook.load(settings.policies_dir, templates, packs)


def refuse_default_secrets(settings: NotifierSettings) -> None:
    """Outside the local profile, a configured provider's secret may not be the demo value
    this repository ships (anyone could sign its callbacks, e.g. opt every number out)."""
    if settings.profile == "local":
        return
    if defaults := settings.default_secrets_in_use():
        raise ValueError(
            f"{', '.join(defaults)}: still the local providers' demo value, which is public; "
            "set the provider's own secret (NOTIFIER_PROFILE=local only with the local providers)"
        )


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    refuse_default_secrets(settings)
    packs, templates, policies = load_rules(settings)
    vault = ContactVault(
        transit=KeyRing.from_secret(settings.transit_keys),
        storage=settings.data_key_ring(),
    )
    runtime = ServiceRuntime("notifier", settings, MIGRATIONS, ROLES)
    topic = runtime.topic(Topic.NOTIFICATIONS)
    consumer = LifecycleConsumer(policies, vault, topic)
    runtime.consume(
        GROUP,
        [Topic.LOANS, Topic.ASSIGNMENTS, Topic.AGENCY_ACTIVITIES],
        consumer.handlers(),
        runtime.units_of_work(UnitOfWork),
    )
    if settings.sender:
        dispatchers = build_dispatchers(settings)
        for dispatcher in dispatchers.values():
            runtime.close_on_stop(dispatcher.aclose)
        sender = Sender(
            sessions=runtime.sessions,
            policies=policies,
            packs=packs,
            messages=MessageComposer(vault, templates, settings.lender_names),
            dispatchers=dispatchers,
            notifications_topic=topic,
            batch_size=settings.sender_batch_size,
            lease=timedelta(seconds=settings.sender_lease_seconds),
            unconfirmed_after=timedelta(seconds=settings.sender_unconfirmed_after_seconds),
        )
        for loop in range(1, settings.sender_loops + 1):
            runtime.work(f"sender-{loop}", sender.run)
    app = service_app(
        runtime,
        title="Collections notifier",
        description="Reminders to borrowers under the contact rules, and their outcomes.",
        routers=[notifications.router, receipts.router],
        max_body_bytes=settings.max_body_bytes,
    )
    app.state.authenticator = runtime.auth
    app.state.policies = policies
    app.state.receipts = Receipts(policies, vault)
    app.state.callback_parsers = callback_parsers(settings)
    return app
