"""E-mail over real SMTP to the local server: STARTTLS against its certificate, AUTH, a UTF-8
MIME message whose Message-ID comes from the idempotency key."""

import dataclasses
from collections.abc import AsyncIterator

import pytest

from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.journal import Fault
from deploy.local_providers.server import RunningProviders, running_providers
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError
from services.notifier.adapters.providers.smtp import SmtpEmail
from shared.vocabulary import Channel

REMINDER = OutgoingMessage(
    Channel.EMAIL,
    "borrower@example.com",
    "Rappel : échéance dépassée",
    "Bonjour,\nvotre échéance de 1 250,00 € est dépassée. 请尽快还款。",
    "reminder-42",
    sender_name="Lender Demo",
)


def smtp(providers: RunningProviders, **changes: object) -> SmtpEmail:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": providers.smtp_port,
        "from_address": "reminders@lender.example",
        "security": "starttls",
        "ca_file": str(providers.smtp_certificate),
        **changes,
    }
    return SmtpEmail(**options)  # type: ignore[arg-type]


async def test_email_goes_over_starttls_and_is_kept(providers: RunningProviders) -> None:
    receipt = await smtp(providers).send(REMINDER)
    [kept] = providers.journal.messages(REMINDER.to)
    assert receipt.provider_message_id == "<reminder-42@lender.example>"
    assert (kept.channel, kept.subject, kept.body.rstrip("\n")) == (
        "email",
        REMINDER.subject,
        REMINDER.body,
    )
    assert kept.provider_message_id == receipt.provider_message_id


async def test_a_resend_carries_the_same_message_id(providers: RunningProviders) -> None:
    first = await smtp(providers).send(REMINDER)
    again = await smtp(providers).send(REMINDER)
    assert first.provider_message_id == again.provider_message_id


async def test_an_untrusted_certificate_is_refused(providers: RunningProviders) -> None:
    with pytest.raises(ProviderError) as refused:
        await smtp(providers, ca_file="").send(REMINDER)
    assert refused.value.retriable
    assert providers.journal.messages(REMINDER.to) == []


async def test_a_refused_recipient_is_not_retriable(providers: RunningProviders) -> None:
    with pytest.raises(ProviderError) as refused:
        await smtp(providers).send(dataclasses.replace(REMINDER, to="nobody-at-all"))
    assert not refused.value.retriable


async def test_a_temporary_failure_is_retriable(providers: RunningProviders) -> None:
    providers.faults.set("smtp", Fault(451, 1))
    with pytest.raises(ProviderError) as refused:
        await smtp(providers).send(REMINDER)
    assert refused.value.retriable
    assert "451" in refused.value.reason


@pytest.fixture
async def authenticating() -> AsyncIterator[RunningProviders]:
    config = EmulatorConfig(http_port=0, smtp_port=0, smtp_username="lender", smtp_password="pw")
    async with running_providers(config) as running:
        yield running


async def test_auth_is_required_and_checked(authenticating: RunningProviders) -> None:
    with pytest.raises(ProviderError) as anonymous:
        await smtp(authenticating).send(REMINDER)
    with pytest.raises(ProviderError) as wrong:
        await smtp(authenticating, username="lender", password="nope").send(REMINDER)
    await smtp(authenticating, username="lender", password="pw").send(REMINDER)
    assert not anonymous.value.retriable
    assert not wrong.value.retriable
    assert len(authenticating.journal.messages(REMINDER.to)) == 1
