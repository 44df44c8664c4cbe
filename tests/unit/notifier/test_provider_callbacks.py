"""Parsing and authenticating the providers' delivery reports and inbound replies."""

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from services.notifier.adapters.providers.callbacks import (
    AliyunCallbacks,
    TwilioCallbacks,
    callback_parsers,
)
from services.notifier.adapters.providers.settings import ProviderSettings
from services.notifier.adapters.providers.signatures import twilio_signature
from services.notifier.application.errors import CallbackRejected
from services.notifier.application.ports import DeliveryReport, InboundReply

NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
URL = "https://notifier.example/v1/receipts/twilio"
TOKEN = "auth-token"


def twilio(params: dict[str, str], *, token: str = TOKEN, url: str = URL) -> list[object]:
    signature = twilio_signature(token, url, params.items())
    body = urlencode(params).encode()
    parser = TwilioCallbacks(TOKEN, clock=lambda: NOW)
    return list(parser.parse(url=URL, headers={"x-twilio-signature": signature}, body=body))


def test_twilio_status_callbacks_become_delivery_reports() -> None:
    delivered = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    failed = {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio(delivered) == [DeliveryReport("twilio", "SM1", "delivered", None, NOW)]
    assert twilio(failed) == [DeliveryReport("twilio", "SM2", "failed", "30003", NOW)]
    assert twilio({"MessageSid": "SM3", "MessageStatus": "queued"}) == []


def test_twilio_incoming_message_becomes_a_reply() -> None:
    params = {"MessageSid": "SM9", "From": "+8613800000000", "To": "+15005550006", "Body": "退订"}
    assert twilio(params) == [InboundReply("twilio", "+8613800000000", "退订", NOW)]


def test_twilio_callback_with_a_wrong_or_missing_signature_is_refused() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    with pytest.raises(CallbackRejected) as wrong_token:
        twilio(params, token="another-token")
    with pytest.raises(CallbackRejected) as other_url:
        twilio(params, url="https://elsewhere.example/v1/receipts/twilio")
    with pytest.raises(CallbackRejected) as missing:
        TwilioCallbacks(TOKEN).parse(url=URL, headers={}, body=urlencode(params).encode())
    assert {wrong_token.value.status, other_url.value.status, missing.value.status} == {401}


def test_twilio_signed_but_meaningless_callback_is_malformed() -> None:
    with pytest.raises(CallbackRejected) as refused:
        twilio({"AccountSid": "AC1"})
    assert refused.value.status == 400


ALIYUN_URL = "https://notifier.example/v1/receipts/aliyun?token=secret-token"


def aliyun(items: object, url: str = ALIYUN_URL) -> list[object]:
    body = json.dumps(items, ensure_ascii=False).encode()
    return list(AliyunCallbacks("secret-token").parse(url=url, headers={}, body=body))


def test_aliyun_reports_and_replies_are_told_apart() -> None:
    report = {
        "phone_number": "13800000000",
        "send_time": "2026-12-03 09:00:00",
        "report_time": "2026-12-03 09:00:05",
        "success": False,
        "err_code": "MK:0001",
        "err_msg": "failed",
        "sms_size": "1",
        "biz_id": "900619746936498440^0",
        "out_id": "rem-1",
    }
    reply = {
        "phone_number": "13800000000",
        "send_time": "2026-12-03 09:01:00",
        "content": "退订",
        "dest_code": "1234",
        "sequence_id": 1234567890,
    }
    assert aliyun([report, reply]) == [
        DeliveryReport(
            "aliyun",
            "900619746936498440^0",
            "failed",
            "MK:0001",
            datetime(2026, 12, 3, 1, 0, 5, tzinfo=UTC),
            "rem-1",
        ),
        InboundReply("aliyun", "+8613800000000", "退订", datetime(2026, 12, 3, 1, 1, tzinfo=UTC)),
    ]


def test_aliyun_push_without_the_right_token_is_refused() -> None:
    for url in ("https://notifier.example/v1/receipts/aliyun", ALIYUN_URL + "x"):
        with pytest.raises(CallbackRejected) as refused:
            aliyun([], url=url)
        assert refused.value.status == 401


@pytest.mark.parametrize(
    "items",
    [
        {"not": "a list"},
        [1],
        [{"biz_id": "1", "report_time": "2026-12-03 09:00:00"}],
        [{"success": True, "biz_id": "1", "report_time": "yesterday"}],
    ],
)
def test_aliyun_malformed_push_is_a_400(items: object) -> None:
    with pytest.raises(CallbackRejected) as refused:
        aliyun(items)
    assert refused.value.status == 400


def test_parsers_are_keyed_by_the_route_provider_name() -> None:
    assert set(callback_parsers(ProviderSettings())) == {"twilio", "aliyun"}
