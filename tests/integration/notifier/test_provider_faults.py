"""The local providers' fault API (``POST /v1/faults``) against the notifier's own adapters:
late answers, the ambiguous timeout (accepted, answered after the client gave up), bursts of
errors by count or for a while, and the journal's client reference that tells a resend."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from deploy.local_providers.server import RunningProviders
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError
from services.notifier.adapters.providers.dispatch import aliyun_provider, twilio_provider
from services.notifier.adapters.providers.settings import ProviderSettings
from services.notifier.adapters.providers.smtp import SmtpEmail
from services.notifier.application.ports import DeliveryReport
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.integration.notifier.conftest import Receiver

TEXT = OutgoingMessage(Channel.SMS, "+8613800000002", None, "还款提醒", "notification-1")
MAIL = OutgoingMessage(Channel.EMAIL, "late@example.com", "Reminder", "Please pay.", "mail-1")


async def inject(providers: RunningProviders, **fault: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=providers.http_url) as client:
        return await client.post("/v1/faults", json=fault)


async def faults_now(providers: RunningProviders) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=providers.http_url) as client:
        answer = await client.get("/v1/faults")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def with_timeout(settings: ProviderSettings, seconds: float) -> ProviderSettings:
    return settings.model_copy(update={"http_timeout_seconds": seconds})


def smtp(providers: RunningProviders, timeout: float = 10.0) -> SmtpEmail:
    return SmtpEmail(
        host="127.0.0.1",
        port=providers.smtp_port,
        from_address="reminders@lender.example",
        ca_file=str(providers.smtp_certificate),
        timeout_seconds=timeout,
    )


async def test_a_late_answer_still_accepts_and_the_journal_names_the_clients_key(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    answer = await inject(providers, provider="twilio", delay_seconds=0.6, count=1)
    assert answer.status_code == 200, answer.text
    twilio = twilio_provider(settings).provider
    try:
        started = time.monotonic()
        await twilio.send(TEXT)
        late = time.monotonic() - started
        await twilio.send(TEXT)  # the fault was for one request
        on_time = time.monotonic() - started - late
    finally:
        await twilio.aclose()
    assert late >= 0.6 > on_time
    journalled = providers.journal.messages(TEXT.to)
    assert [m.client_reference for m in journalled] == ["notification-1", "notification-1"]
    assert (await faults_now(providers))["twilio"]["applied"] == 1


async def test_an_ambiguous_timeout_accepts_the_message_and_reports_it_after_the_client_gave_up(
    providers: RunningProviders, settings: ProviderSettings, receiver: Receiver
) -> None:
    await inject(providers, provider="twilio", delay_seconds=2.0, after_accept=True, count=1)
    twilio = twilio_provider(with_timeout(settings, 0.5)).provider
    try:
        with pytest.raises(ProviderError) as gave_up:
            await twilio.send(TEXT)
    finally:
        await twilio.aclose()
    assert gave_up.value.ambiguous  # it may have gone out: never retried blindly
    assert not gave_up.value.retriable
    assert "ReadTimeout" in gave_up.value.reason
    (accepted,) = providers.journal.messages(TEXT.to)  # it did go out
    assert accepted.client_reference == TEXT.idempotency_key

    async def reported() -> bool:  # and the provider says so, naming the message
        return any(
            isinstance(c, DeliveryReport) and c.provider_message_id == accepted.provider_message_id
            for c in receiver.accepted
        )

    await eventually(reported, within=10)


async def test_an_email_accepted_then_answered_late_times_out_at_the_client(
    providers: RunningProviders,
) -> None:
    await inject(providers, provider="smtp", delay_seconds=2.0, after_accept=True)
    with pytest.raises(ProviderError) as gave_up:
        await smtp(providers, timeout=0.5).send(MAIL)
    assert gave_up.value.ambiguous
    assert not gave_up.value.retriable
    (accepted,) = providers.journal.messages(MAIL.to)
    assert accepted.client_reference == accepted.provider_message_id
    assert "mail-1" in (accepted.client_reference or "")


async def test_a_burst_of_errors_for_a_while_then_normal_answers(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    await inject(providers, provider="aliyun", status=503, for_seconds=1.0)
    aliyun = aliyun_provider(settings).provider
    try:
        refused = 0
        for _ in range(5):
            with pytest.raises(ProviderError) as burst:
                await aliyun.send(TEXT)
            assert burst.value.retriable
            refused += 1
        await asyncio.sleep(1.1)
        await aliyun.send(TEXT)
    finally:
        await aliyun.aclose()
    (accepted,) = providers.journal.messages(TEXT.to)
    assert accepted.client_reference == TEXT.idempotency_key  # Alibaba's OutId
    report = (await faults_now(providers))["aliyun"]
    assert (report["applied"], report["status"], report["seconds_left"]) == (refused, 503, 0.0)


async def test_an_error_can_come_late_and_a_count_of_them_in_a_row(
    providers: RunningProviders,
) -> None:
    await inject(providers, provider="smtp", status=451, count=2, delay_seconds=0.3)
    client = smtp(providers)
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(ProviderError) as refused:
            await client.send(MAIL)
        assert "451" in refused.value.reason
    assert time.monotonic() - started >= 0.6
    await client.send(MAIL)
    assert len(providers.journal.messages(MAIL.to)) == 1


async def test_faults_are_cleared_and_a_fault_that_does_nothing_is_refused(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    for pointless in (
        {"provider": "twilio"},
        {"provider": "twilio", "status": 503, "after_accept": True, "delay_seconds": 1},
        {"provider": "twilio", "after_accept": True},
        {"provider": "twilio", "delay_seconds": -1},
    ):
        assert (await inject(providers, **pointless)).status_code == 422, pointless
    await inject(providers, provider="twilio", status=500, count=100)
    async with httpx.AsyncClient(base_url=providers.http_url) as client:
        assert (await client.delete("/v1/faults")).status_code == 204
    assert await faults_now(providers) == {}
    twilio = twilio_provider(settings).provider
    try:
        await twilio.send(TEXT)
    finally:
        await twilio.aclose()
    assert len(providers.journal.messages(TEXT.to)) == 1
