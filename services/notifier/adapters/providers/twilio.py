"""SMS through Twilio's Programmable Messaging API (Messages resource, API version 2010-04-01).

POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From (or
MessagingServiceSid), Body, StatusCallback; HTTP Basic auth AccountSid:AuthToken; the answer's
``sid`` names the message in status callbacks.

Idempotency: Twilio documents ``I-Twilio-Idempotency-Token`` as the header it puts on the
webhooks it sends (so a receiver can drop a retried callback); its Messages API documents no
idempotency key. The reminder's key is sent in that header anyway (an unknown header is
ignored); what makes a resend recognisable is the notifier's own record of the key, and the
key in the status callback URL (``?notification=``): a report about a message whose sender died
before recording it still names the reminder it settles.
"""

import base64
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from shared.vocabulary import Channel

from .base import OutgoingMessage, ProviderError, SendReceipt
from .http_errors import Lanes, get_json, post_form, status_error

API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
NON_RETRIABLE_CODES = frozenset({21211, 21408, 21610, 21614})  # bad number, region, opted out
CLOCK_SKEW = timedelta(minutes=2)  # between our clock and the provider's date_created


class TwilioSms:
    name = "twilio"
    channel = Channel.SMS

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        status_callback_url: str = "",
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs a From number or a Messaging Service SID")
        self._url = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._headers = {"Accept": "application/json"}
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._authorization = f"Basic {credentials}"
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._status_callback_url = status_callback_url
        self._lanes = Lanes(timeout_seconds, client)

    def form(self, message: OutgoingMessage) -> dict[str, str]:
        form = {"To": message.to, "Body": message.body}
        if self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        else:
            form["From"] = self._from_number
        if self._status_callback_url:
            callback = httpx.URL(self._status_callback_url)
            form["StatusCallback"] = str(
                callback.copy_merge_params({"notification": message.idempotency_key})
            )
        return form

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        response = await post_form(
            self._lanes,
            self.name,
            self._url,
            self.form(message),
            headers={
                "Authorization": self._authorization,
                "Accept": "application/json",
                IDEMPOTENCY_HEADER: message.idempotency_key,
            },
        )
        answer = _json(response)
        if response.status_code not in (200, 201):
            code = answer.get("code")
            if code in NON_RETRIABLE_CODES:
                raise ProviderError(f"code {code}", retriable=False, provider=self.name)
            raise status_error(self.name, response, code)
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ProviderError("answer without a sid", retriable=True, provider=self.name)
        return SendReceipt(self.name, sid, datetime.now(UTC))

    async def find(self, message: OutgoingMessage, since: datetime) -> SendReceipt | None:
        """Twilio's Message list, filtered by recipient and day: any message to this number
        created since the send began counts as this one (erring towards not texting twice)."""
        answer = await get_json(
            self._lanes,
            self.name,
            self._url,
            params={
                "To": message.to,
                "DateSent>": (since - CLOCK_SKEW).date().isoformat(),
                "PageSize": "100",
            },
            headers={**self._headers, "Authorization": self._authorization},
        )
        listed = answer.get("messages") if isinstance(answer, dict) else None
        if not isinstance(listed, list):
            raise ProviderError(
                "lookup answer without messages", retriable=True, provider=self.name
            )
        for item in listed:
            created = _created(item)
            if (
                item.get("to") == message.to
                and created is not None
                and created >= since - CLOCK_SKEW
            ):
                return SendReceipt(self.name, str(item["sid"]), created)
        return None

    async def aclose(self) -> None:
        await self._lanes.aclose()


def _created(item: object) -> datetime | None:
    """When a listed message was created; None for an entry that is not one."""
    if not isinstance(item, dict) or not isinstance(item.get("sid"), str):
        return None
    try:
        return parsedate_to_datetime(str(item.get("date_created")))
    except (TypeError, ValueError):
        return None


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
