"""A Twilio-compatible Messages endpoint: ``POST /twilio/2010-04-01/Accounts/{AccountSid}/
Messages.json``, HTTP Basic auth, form-encoded; Twilio's error shape and codes; signed status
callbacks (sent, then delivered) to a message's StatusCallback."""

import base64
import binascii
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .callbacks import CallbackPoster
from .config import EmulatorConfig
from .journal import Faults, Journal, ReceivedMessage
from .signing import twilio_signature

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
MAX_BODY = 1600
# Twilio puts it on the webhooks it sends; a client may send it too (Twilio ignores it): the
# journal keeps it as the message's client reference.
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def signed_webhook(token: str, url: str, params: dict[str, str]) -> dict[str, Any]:
    """The keyword arguments of a POST Twilio would make: form, signature, idempotency token."""
    return {
        "form": params,
        "headers": {
            "X-Twilio-Signature": twilio_signature(token, url, params.items()),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        },
    }


def twilio_router(
    config: EmulatorConfig, journal: Journal, faults: Faults, callbacks: CallbackPoster
) -> APIRouter:
    router = APIRouter(prefix="/twilio/2010-04-01")

    @router.post("/Accounts/{account_sid}/Messages.json")
    async def create_message(account_sid: str, request: Request) -> JSONResponse:
        fault = faults.take("twilio")
        if fault is not None:
            await fault.before_handling()
            if fault.status is not None:
                code = int(fault.code) if fault.code and fault.code.isdigit() else 20500
                return twilio_error(fault.status, code, "Service unavailable")
        answer = await _create(account_sid, request)
        if fault is not None:
            await fault.after_handling()
        return answer

    async def _create(account_sid: str, request: Request) -> JSONResponse:
        if not _authenticated(request.headers.get("authorization"), config):
            return twilio_error(401, 20003, "Authenticate")
        if account_sid != config.twilio_account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        content_type = request.headers.get("content-type", "")
        raw = (await request.body()).decode("utf-8", errors="replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if not content_type.startswith("application/x-www-form-urlencoded"):
            form = {}
        refusal = _refusal(form, config)
        if refusal is not None:
            return refusal
        sid = new_sid("SM")
        journal.record(
            channel="sms",
            to=form["To"],
            subject=None,
            body=form["Body"],
            provider="twilio",
            provider_message_id=sid,
            client_reference=request.headers.get(IDEMPOTENCY_HEADER),
        )
        sender = form.get("From") or config.twilio_numbers[0]
        callback = form.get("StatusCallback")
        if callback:
            token = config.twilio_auth_token
            updates = [_status(config, sid, sender, form["To"], s) for s in ("sent", "delivered")]
            callbacks.later(*((callback, signed_webhook(token, callback, u)) for u in updates))
        return JSONResponse(_resource(config, sid, sender, form), status_code=201)

    @router.get("/Accounts/{account_sid}/Messages.json")
    async def list_messages(account_sid: str, request: Request) -> JSONResponse:
        """Twilio's Message list, newest first, filtered by ``To`` and ``DateSent>`` (a day)."""
        if not _authenticated(request.headers.get("authorization"), config):
            return twilio_error(401, 20003, "Authenticate")
        if account_sid != config.twilio_account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        to, since = request.query_params.get("To"), request.query_params.get("DateSent>")
        found = [
            m
            for m in reversed(journal.messages(to))
            if m.provider == "twilio" and (not since or m.received_at[:10] >= since)
        ]
        page = [_listed(config, m) for m in found[: int(request.query_params.get("PageSize", 50))]]
        return JSONResponse({"messages": page, "page": 0, "page_size": len(page)})

    return router


def _listed(config: EmulatorConfig, message: ReceivedMessage) -> dict[str, Any]:
    created = format_datetime(datetime.fromisoformat(message.received_at))
    form = {"To": message.to, "Body": message.body}
    resource = _resource(config, message.provider_message_id, config.twilio_numbers[0], form)
    return {**resource, "date_created": created, "date_sent": created, "status": "delivered"}


def _authenticated(header: str | None, config: EmulatorConfig) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, config.twilio_account_sid) and secrets.compare_digest(
        password, config.twilio_auth_token
    )


def _refusal(form: dict[str, str], config: EmulatorConfig) -> JSONResponse | None:
    to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
    body = form.get("Body", "")
    if not to:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not E164.match(to):
        return twilio_error(400, 21211, "Invalid 'To' Phone Number")
    if not sender and not service:
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if sender and sender not in config.twilio_numbers:
        return twilio_error(
            400,
            21606,
            "The From phone number is not a valid, SMS-capable inbound phone number "
            "or short code for your account.",
        )
    if service and not MESSAGING_SERVICE_SID.match(service):
        return twilio_error(400, 21701, "The Messaging Service Sid is invalid")
    if not body:
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY:
        return twilio_error(
            400, 21617, "The concatenated message body exceeds the 1600 character limit."
        )
    callback = form.get("StatusCallback")
    if callback and urlsplit(callback).scheme not in ("http", "https"):
        return twilio_error(400, 21609, "Invalid StatusCallback")
    return None


def _status(config: EmulatorConfig, sid: str, sender: str, to: str, status: str) -> dict[str, str]:
    return {
        "AccountSid": config.twilio_account_sid,
        "ApiVersion": "2010-04-01",
        "From": sender,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": to,
    }


def _resource(
    config: EmulatorConfig, sid: str, sender: str, form: dict[str, str]
) -> dict[str, Any]:
    now = format_datetime(datetime.now(UTC))
    account = config.twilio_account_sid
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": form["Body"],
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "to": form["To"],
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


def inbound_message(config: EmulatorConfig, sender: str, body: str) -> dict[str, Any]:
    """What Twilio posts to the number's webhook when a borrower texts it."""
    sid = new_sid("SM")
    params = {
        "AccountSid": config.twilio_account_sid,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": config.twilio_numbers[0],
    }
    return signed_webhook(config.twilio_auth_token, config.twilio_inbound_url, params)
