"""The dispatcher against the local providers: retries on 503, failover to the second SMS
provider, a final error when all fail, and the per-provider rate limit."""

import asyncio

import httpx
import pytest
from aiolimiter import AsyncLimiter

from deploy.local_providers.server import RunningProviders
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError
from services.notifier.adapters.providers.dispatch import (
    ChannelDispatcher,
    RateLimitedProvider,
    build_dispatchers,
    twilio_provider,
)
from services.notifier.adapters.providers.settings import ProviderSettings
from shared.vocabulary import Channel

REMINDER = OutgoingMessage(Channel.SMS, "+8613800000001", None, "还款提醒", "rem-7")


async def fail(providers: RunningProviders, provider: str, status: int, count: int) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{providers.http_url}/v1/faults",
            json={"provider": provider, "status": status, "count": count},
        )
    response.raise_for_status()


async def send(settings: ProviderSettings, message: OutgoingMessage) -> str:
    dispatchers = build_dispatchers(settings)
    try:
        return (await dispatchers[message.channel].send(message)).provider
    finally:
        for dispatcher in dispatchers.values():
            await dispatcher.aclose()


async def test_503s_are_retried_on_the_same_provider(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    await fail(providers, "twilio", 503, 2)
    assert await send(settings, REMINDER) == "twilio"
    assert [m.provider for m in providers.journal.messages(REMINDER.to)] == ["twilio"]


async def test_a_provider_that_keeps_failing_hands_over_to_the_next(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    await fail(providers, "twilio", 503, 100)
    assert await send(settings, REMINDER) == "aliyun"
    assert [m.provider for m in providers.journal.messages(REMINDER.to)] == ["aliyun"]
    twilio_fault = providers.faults.take("twilio")
    assert twilio_fault is not None
    assert twilio_fault.remaining == 100 - settings.retry_attempts - 1  # each try, then ours


async def test_when_every_provider_fails_the_error_is_final_and_retriable(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    await fail(providers, "twilio", 503, 100)
    await fail(providers, "aliyun", 503, 100)
    with pytest.raises(ProviderError) as failed:
        await send(settings, REMINDER)
    assert failed.value.retriable
    assert "twilio" in failed.value.reason
    assert "aliyun" in failed.value.reason
    assert providers.journal.messages(REMINDER.to) == []


async def test_the_provider_order_is_a_setting(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    aliyun_first = settings.model_copy(update={"sms_providers": "aliyun,twilio"})
    assert await send(aliyun_first, REMINDER) == "aliyun"


async def test_the_rate_limit_holds_a_message_back(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    limiter = AsyncLimiter(1, 3600)  # one message an hour
    twilio = twilio_provider(settings).provider
    dispatcher = ChannelDispatcher(Channel.SMS, [RateLimitedProvider(twilio, limiter)])
    try:
        await dispatcher.send(REMINDER)
        assert not limiter.has_capacity()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(dispatcher.send(REMINDER), timeout=0.5)
    finally:
        await dispatcher.aclose()
    assert len(providers.journal.messages(REMINDER.to)) == 1
