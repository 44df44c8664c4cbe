"""Callbacks round trip: the local providers post status reports and replies, signed or
authenticated as the real ones do, to a receiver that parses them with the notifier's parsers;
a wrong signature or token is refused."""

import dataclasses

import httpx
from pydantic import SecretStr

from deploy.local_providers.server import RunningProviders
from services.notifier.adapters.providers.base import OutgoingMessage
from services.notifier.adapters.providers.callbacks import callback_parsers
from services.notifier.adapters.providers.dispatch import aliyun_provider, twilio_provider
from services.notifier.adapters.providers.settings import ProviderSettings
from services.notifier.application.ports import DeliveryReport, InboundReply
from services.notifier.domain.opt_out import is_opt_out
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.integration.notifier.conftest import Receiver

REMINDER = OutgoingMessage(Channel.SMS, "+8613800000002", None, "还款提醒", "rem-9")


async def test_twilio_status_callbacks_arrive_signed(
    providers: RunningProviders, settings: ProviderSettings, receiver: Receiver
) -> None:
    twilio = twilio_provider(settings).provider
    receipt = await twilio.send(REMINDER)
    await twilio.aclose()

    async def reports() -> list[DeliveryReport]:
        found = [c for c in receiver.accepted if isinstance(c, DeliveryReport)]
        return found if len(found) == 2 else []

    sent, delivered = await eventually(reports, within=10)
    assert (sent.status, delivered.status) == ("sent", "delivered")
    assert {sent.provider_message_id, delivered.provider_message_id} == {
        receipt.provider_message_id
    }
    assert receiver.refused == []


async def test_aliyun_delivery_report_arrives_with_the_idempotency_key(
    providers: RunningProviders, settings: ProviderSettings, receiver: Receiver
) -> None:
    aliyun = aliyun_provider(settings).provider
    receipt = await aliyun.send(REMINDER)
    await aliyun.aclose()

    async def report() -> list[DeliveryReport]:
        return [c for c in receiver.accepted if isinstance(c, DeliveryReport)]

    [delivered] = await eventually(report, within=10)
    assert delivered == dataclasses.replace(
        delivered,
        provider="aliyun",
        provider_message_id=receipt.provider_message_id,
        status="delivered",
        idempotency_key="rem-9",
    )


async def reply(providers: RunningProviders, provider: str, body: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{providers.http_url}/v1/replies",
            json={"provider": provider, "from": "+8613800000002", "body": body},
        )


async def test_replies_reach_the_receiver_as_opt_outs(
    providers: RunningProviders, settings: ProviderSettings, receiver: Receiver
) -> None:
    assert (await reply(providers, "twilio", "STOP")).status_code == 200
    assert (await reply(providers, "aliyun", "退订")).status_code == 200
    replies = [c for c in receiver.accepted if isinstance(c, InboundReply)]
    assert [(r.provider, r.from_number, r.body) for r in replies] == [
        ("twilio", "+8613800000002", "STOP"),
        ("aliyun", "+8613800000002", "退订"),
    ]
    assert all(is_opt_out(r.body) for r in replies)


async def test_a_wrong_signature_or_token_is_refused(
    providers: RunningProviders, settings: ProviderSettings, receiver: Receiver
) -> None:
    receiver.parsers = callback_parsers(
        settings.model_copy(
            update={
                "twilio_auth_token": SecretStr("another-token"),
                "aliyun_callback_token": SecretStr("another-token"),
            }
        )
    )
    assert (await reply(providers, "twilio", "STOP")).status_code == 502
    assert (await reply(providers, "aliyun", "退订")).status_code == 502
    assert receiver.accepted == []
    assert set(receiver.refused) == {("twilio", 401), ("aliyun", 401)}
