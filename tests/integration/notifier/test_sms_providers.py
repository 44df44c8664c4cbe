"""The SMS adapters against the local Twilio and Alibaba Cloud endpoints, over real HTTP: what
they send is accepted and kept; what a real provider would refuse is refused."""

import base64
import dataclasses
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from deploy.local_providers.server import RunningProviders
from services.notifier.adapters.providers.aliyun import AliyunSms
from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError
from services.notifier.adapters.providers.dispatch import aliyun_provider, twilio_provider
from services.notifier.adapters.providers.settings import ProviderSettings
from shared.vocabulary import Channel

REMINDER = OutgoingMessage(Channel.SMS, "+8613800000000", None, "您的还款已逾期 3 天", "rem-1")


async def messages(providers: RunningProviders, to: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(providers.messages_url, params={"to": to})
    response.raise_for_status()
    listed: list[dict[str, object]] = response.json()
    return listed


async def test_twilio_message_is_accepted_and_readable(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    twilio = twilio_provider(settings).provider
    try:
        receipt = await twilio.send(REMINDER)
    finally:
        await twilio.aclose()
    assert receipt.provider == "twilio"
    assert receipt.provider_message_id.startswith("SM")
    [kept] = await messages(providers, REMINDER.to)
    assert kept["channel"] == "sms"
    assert kept["body"] == REMINDER.body
    assert kept["provider"] == "twilio"
    assert kept["provider_message_id"] == receipt.provider_message_id
    assert kept["subject"] is None
    assert kept["received_at"]


async def test_aliyun_message_is_accepted_with_sign_name_and_template(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    aliyun = aliyun_provider(settings).provider
    try:
        receipt = await aliyun.send(REMINDER)
    finally:
        await aliyun.aclose()
    assert receipt.provider == "aliyun"
    [kept] = await messages(providers, REMINDER.to)
    assert kept["body"] == f"【{settings.aliyun_sign_name}】{REMINDER.body}"
    assert kept["provider_message_id"] == receipt.provider_message_id


async def test_twilio_refuses_a_wrong_auth_token(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    wrong = settings.model_copy(update={"twilio_auth_token": SecretStr("not-the-token")})
    twilio = twilio_provider(wrong).provider
    try:
        with pytest.raises(ProviderError) as refused:
            await twilio.send(REMINDER)
    finally:
        await twilio.aclose()
    assert "401" in refused.value.reason
    assert "20003" in refused.value.reason
    assert not refused.value.retriable
    assert await messages(providers, REMINDER.to) == []


async def test_twilio_endpoint_answers_unsigned_and_malformed_requests_as_twilio_does(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    account = settings.twilio_account_sid
    url = f"{providers.http_url}/twilio/2010-04-01/Accounts/{account}/Messages.json"
    token = settings.twilio_auth_token.get_secret_value()
    basic = base64.b64encode(f"{settings.twilio_account_sid}:{token}".encode()).decode()
    good = {"To": "+8613800000000", "From": settings.twilio_from_number, "Body": "hi"}
    async with httpx.AsyncClient(headers={"Authorization": f"Basic {basic}"}) as client:
        unsigned = await httpx.AsyncClient().post(url, data=good)
        no_to = await client.post(url, data={**good, "To": ""})
        bad_to = await client.post(url, data={**good, "To": "13800000000"})
        no_body = await client.post(url, data={**good, "Body": ""})
        foreign_from = await client.post(url, data={**good, "From": "+15550001111"})
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, 20003)
    assert (no_to.status_code, no_to.json()["code"]) == (400, 21604)
    assert (bad_to.status_code, bad_to.json()["code"]) == (400, 21211)
    assert (no_body.status_code, no_body.json()["code"]) == (400, 21602)
    assert (foreign_from.status_code, foreign_from.json()["code"]) == (400, 21606)


async def test_aliyun_endpoint_refuses_a_tampered_signature(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    adapter = aliyun_provider(settings).provider
    assert isinstance(adapter, AliyunSms)
    params = adapter.signed_parameters(REMINDER, nonce="n-1", timestamp=datetime.now(UTC))
    tampered = {**params, "PhoneNumbers": "13900000000"}
    unsigned = {name: value for name, value in params.items() if name != "Signature"}
    endpoint = settings.aliyun_endpoint
    async with httpx.AsyncClient() as client:
        refused = await client.post(endpoint, data=tampered)
        missing = await client.post(endpoint, data=unsigned)
        accepted = await client.post(endpoint, data=params)
        replayed = await client.post(endpoint, data=params)
    await adapter.aclose()
    assert (refused.status_code, refused.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert (missing.status_code, missing.json()["Code"]) == (400, "MissingSignature")
    assert accepted.json()["Code"] == "OK"
    assert (replayed.status_code, replayed.json()["Code"]) == (400, "SignatureNonceUsed")


async def test_aliyun_refusals_map_to_provider_errors(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    bad_secret = aliyun_provider(
        settings.model_copy(update={"aliyun_access_key_secret": SecretStr("wrong")})
    ).provider
    bad_number = aliyun_provider(settings).provider
    try:
        with pytest.raises(ProviderError) as unsigned:
            await bad_secret.send(REMINDER)
        with pytest.raises(ProviderError) as illegal:
            await bad_number.send(dataclasses.replace(REMINDER, to="+86123"))
    finally:
        await bad_secret.aclose()
        await bad_number.aclose()
    assert "SignatureDoesNotMatch" in unsigned.value.reason
    assert not unsigned.value.retriable
    assert "isv.MOBILE_NUMBER_ILLEGAL" in illegal.value.reason
    assert not illegal.value.retriable


async def test_aliyun_flow_control_is_retriable(
    providers: RunningProviders, settings: ProviderSettings
) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(
            f"{providers.http_url}/v1/faults",
            json={
                "provider": "aliyun",
                "status": 200,
                "count": 1,
                "code": "isv.BUSINESS_LIMIT_CONTROL",
            },
        )
    aliyun = aliyun_provider(settings).provider
    try:
        with pytest.raises(ProviderError) as limited:
            await aliyun.send(REMINDER)
    finally:
        await aliyun.aclose()
    assert limited.value.retriable
