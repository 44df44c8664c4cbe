"""Provider callbacks posted to ``POST /v1/receipts/{provider}``: delivery reports and inbound
replies, each authenticated the way its provider authenticates it.

- Twilio signs every webhook: ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed with the auth
  token, of the full URL Twilio called followed by the sorted POST parameters
  (``signatures.twilio_signature``). Status callbacks carry MessageSid, MessageStatus and, on
  failure, ErrorCode; incoming messages carry From and Body.
- Alibaba Cloud's HTTP batch push (SmsReport, SmsUp) carries no signature and no credentials
  of its own: it posts a JSON array to the URL set in the SMS console. The only thing that can
  authenticate it is that URL, so it is set with a secret ``token`` query parameter (and
  HTTPS), and a push whose ``token`` is missing or wrong is refused. That is what Alibaba
  offers; it is weaker than a signature (the token travels in every request).
"""

import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import phonenumbers

from services.notifier.application.errors import CallbackRejected
from services.notifier.application.ports import (
    Callback,
    CallbackParser,
    DeliveryReport,
    DeliveryStatus,
    InboundReply,
)

from .settings import ProviderSettings
from .signatures import twilio_signature

Clock = Callable[[], datetime]
CHINA_TIME = ZoneInfo("Asia/Shanghai")


def _now() -> datetime:
    return datetime.now(UTC)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


TWILIO_STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}


class TwilioCallbacks:
    """Status callbacks (queued/sending/accepted are progress, not outcomes: skipped) and
    incoming messages."""

    provider = "twilio"

    def __init__(self, auth_token: str, clock: Clock = _now) -> None:
        self._auth_token = auth_token
        self._clock = clock

    def parse(self, *, url: str, headers: Mapping[str, str], body: bytes) -> list[Callback]:
        signature = _header(headers, "X-Twilio-Signature")
        if not signature:
            raise CallbackRejected(401, "X-Twilio-Signature missing")
        try:
            params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as error:
            raise CallbackRejected(400, "body is not form-encoded UTF-8") from error
        expected = twilio_signature(self._auth_token, url, params)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRejected(401, "X-Twilio-Signature does not match")
        fields = dict(params)
        status = fields.get("MessageStatus")
        if status is None or status == "received":
            return [self._reply(fields)]
        sid = fields.get("MessageSid")
        if not sid:
            raise CallbackRejected(400, "MessageSid missing")
        if status not in TWILIO_STATUSES:
            return []
        error_code = fields.get("ErrorCode") or None
        return [
            DeliveryReport(self.provider, sid, TWILIO_STATUSES[status], error_code, self._clock())
        ]

    def _reply(self, fields: Mapping[str, str]) -> InboundReply:
        sender, text = fields.get("From"), fields.get("Body")
        if not sender or text is None:
            raise CallbackRejected(400, "neither a status callback nor a message (From, Body)")
        return InboundReply(self.provider, sender, text, self._clock())


class AliyunCallbacks:
    """SmsReport (delivery reports) and SmsUp (replies), told apart item by item."""

    provider = "aliyun"

    def __init__(self, callback_token: str) -> None:
        self._token = callback_token

    def parse(self, *, url: str, headers: Mapping[str, str], body: bytes) -> list[Callback]:
        given = parse_qs(urlsplit(url).query).get("token", [""])[0]
        if not given or not hmac.compare_digest(given.encode(), self._token.encode()):
            raise CallbackRejected(401, "token missing or wrong")
        try:
            items = json.loads(body)
        except ValueError as error:
            raise CallbackRejected(400, "body is not JSON") from error
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise CallbackRejected(400, "body is not a JSON array of objects")
        return [self._item(index, item) for index, item in enumerate(items)]

    def _item(self, index: int, item: dict[str, object]) -> Callback:
        if "content" in item:
            return InboundReply(
                self.provider,
                _e164(_text(item, "phone_number", index)),
                _text(item, "content", index),
                _china_time(item, "send_time", index),
            )
        success = item.get("success")
        if not isinstance(success, bool):
            raise CallbackRejected(400, f"[{index}].success missing or not a boolean")
        out_id = item.get("out_id")
        return DeliveryReport(
            self.provider,
            _text(item, "biz_id", index),
            "delivered" if success else "failed",
            None if success else str(item.get("err_code") or "") or None,
            _china_time(item, "report_time", index),
            out_id if isinstance(out_id, str) and out_id else None,
        )


def _text(item: Mapping[str, object], field: str, index: int) -> str:
    value = item.get(field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or (field != "content" and not value):
        raise CallbackRejected(400, f"[{index}].{field} missing or not a string")
    return value


def _china_time(item: Mapping[str, object], field: str, index: int) -> datetime:
    """Alibaba's push times are ``YYYY-MM-DD hh:mm:ss`` in China Standard Time."""
    try:
        local = datetime.strptime(_text(item, field, index), "%Y-%m-%d %H:%M:%S")
    except ValueError as error:
        raise CallbackRejected(400, f"[{index}].{field} is not YYYY-MM-DD hh:mm:ss") from error
    return local.replace(tzinfo=CHINA_TIME).astimezone(UTC)


def _e164(number: str) -> str:
    """Mainland numbers come without a prefix; others with their country code, no ``+``."""
    candidate = number if number.startswith("+") else f"+{number}"
    if len(number) == 11 and number.startswith("1"):
        candidate = f"+86{number}"
    try:
        parsed = phonenumbers.parse(candidate)
    except phonenumbers.NumberParseException as error:
        raise CallbackRejected(400, "phone_number is not a phone number") from error
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def callback_parsers(settings: ProviderSettings) -> dict[str, CallbackParser]:
    """The parser for each ``{provider}`` of ``POST /v1/receipts/{provider}``: the configured
    SMS providers only (``NOTIFIER_SMS_PROVIDERS``), so the route of a provider this notifier
    does not use is 404 rather than open under that provider's default secret."""
    parsers: dict[str, Callable[[], CallbackParser]] = {
        "twilio": lambda: TwilioCallbacks(settings.twilio_auth_token.get_secret_value()),
        "aliyun": lambda: AliyunCallbacks(settings.aliyun_callback_token.get_secret_value()),
    }
    return {name: parsers[name]() for name in settings.sms_provider_order()}
