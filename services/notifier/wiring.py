"""Composition root: builds notifier's app from its settings.

Policies and templates are loaded and checked here, before anything starts: a bad policy or a
template with a banned phrase stops the service at once, naming the file and the key.
"""

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.notifier.adapters.contact_details import ContactVault
from services.notifier.adapters.demand_pdf import ReportLabLetters
from services.notifier.adapters.policy_files import load_policies
from services.notifier.adapters.providers.callbacks import callback_parsers
from services.notifier.adapters.providers.dispatch import build_dispatchers
from services.notifier.adapters.template_files import load_catalog
from services.notifier.adapters.unit_of_work import NotifierUnitOfWork
from services.notifier.api import notifications, receipts
from services.notifier.api.dependencies import NotifierApplication
from services.notifier.api.errors import answer_refusals
from services.notifier.application.composer import MessageComposer
from services.notifier.application.data_requests import DataRequestHandlers
from services.notifier.application.lifecycle import LifecycleHandlers
from services.notifier.application.ports import Dispatcher, UnitOfWork
from services.notifier.application.queries import NotificationQueries
from services.notifier.application.receipts import ReceiptHandlers
from services.notifier.application.retention import RetentionHandlers
from services.notifier.application.sending import SendHandlers
from services.notifier.consumer import GROUP, LifecycleConsumer
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.outreach import notifier_pack
from services.notifier.domain.template_checks import banned_phrases
from services.notifier.domain.templates import TemplateCatalog
from services.notifier.settings import NotifierSettings
from services.notifier.workers import Retention, Sender
from shared.auth import Role
from shared.contact_rules import RulePack, load_pack
from shared.crypto import KeyRing
from shared.events.topics import Topic
from shared.http.app import service_app
from shared.runtime import ServiceRuntime
from shared.vocabulary import Channel, Jurisdiction

MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = (Role.LENDER, Role.OPERATOR)  # whose keys the notifier serves (operators: /metrics)
Rules = tuple[dict[Jurisdiction, RulePack], TemplateCatalog, CadencePolicies]


def load_rules(settings: NotifierSettings) -> Rules:
    """The rule packs, templates and policies, each checked (a bad one raises, naming it)."""
    packs = {j: notifier_pack(load_pack(j)) for j in Jurisdiction}
    banned = {jurisdiction: banned_phrases(pack) for jurisdiction, pack in packs.items()}
    templates = load_catalog(settings.templates_dir, banned)
    return packs, templates, load_policies(settings.policies_dir, templates, packs)


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


def contact_vault(settings: NotifierSettings) -> ContactVault:
    return ContactVault(
        transit=KeyRing.from_secret(settings.transit_keys), storage=settings.data_key_ring()
    )


def build_sender(
    settings: NotifierSettings,
    rules: Rules,
    unit_of_work: Callable[[], UnitOfWork],
    dispatchers: Mapping[Channel, Dispatcher],
    **options: Any,
) -> Sender:
    """The sender as the service runs it (``options``: ``lease``, ``batch_size`` ... instead
    of the settings')."""
    packs, templates, policies = rules
    composer = MessageComposer(
        contact_vault(settings),
        templates,
        settings.lender_names,
        settings.borrower_links(),
        settings.borrower_base_url,
        ReportLabLetters(),
    )
    lease = options.pop("lease", timedelta(seconds=settings.sender_lease_seconds))
    unconfirmed_after = options.pop(
        "unconfirmed_after", timedelta(seconds=settings.sender_unconfirmed_after_seconds)
    )
    handlers = SendHandlers(
        unit_of_work, policies, packs, composer, dispatchers, lease, unconfirmed_after
    )
    batch_size = options.pop("batch_size", settings.sender_batch_size)
    return Sender(unit_of_work, handlers, batch_size, lease, **options)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    refuse_default_secrets(settings)
    settings.borrower_links()  # every message carries a link: no keys, no start ("link_keys")
    rules = load_rules(settings)
    policies = rules[2]
    vault = contact_vault(settings)
    runtime = ServiceRuntime("notifier", settings, MIGRATIONS, ROLES)
    unit_of_work = runtime.units_of_work(NotifierUnitOfWork)
    consumer = LifecycleConsumer(LifecycleHandlers(policies, vault), DataRequestHandlers(vault))
    runtime.consume(
        GROUP,
        [Topic.LOANS, Topic.ASSIGNMENTS, Topic.AGENCY_ACTIVITIES],
        consumer.handlers(),
        unit_of_work,
    )
    retention = RetentionHandlers(unit_of_work, timedelta(days=settings.contact_retention_days))
    runtime.work("retention", Retention(retention, settings.retention_interval_seconds).run)
    if settings.sender:
        dispatchers = build_dispatchers(settings)
        for dispatcher in dispatchers.values():
            runtime.close_on_stop(dispatcher.aclose)
        sender = build_sender(settings, rules, unit_of_work, dispatchers)
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
    app.state.notifier = NotifierApplication(
        policies=policies,
        notifications=NotificationQueries(unit_of_work),
        receipts=ReceiptHandlers(unit_of_work, policies, vault, callback_parsers(settings)),
    )
    answer_refusals(app)
    return app
