"""SMS through Alibaba Cloud's Short Message Service: Dysmsapi ``SendSms`` (RPC style, API
version 2017-05-25), signed with RPC signature V1 (HMAC-SHA1, ``signatures.py``), parameters
form-encoded in a POST body.

SendSms only sends registered templates. The adapter is configured with a TemplateCode whose
template is a single variable (e.g. ``${content}``, variable name configurable), and passes the
whole rendered reminder in it: ``TemplateParam={"content": "<text>"}``. The SignName is set
before the text by the carrier (【SignName】). ``OutId`` carries the reminder's idempotency key
and comes back in the delivery report as ``out_id`` and in ``QuerySendDetails``, by which a send
with no answer is looked up.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from shared.vocabulary import Channel

from .base import OutgoingMessage, ProviderError, SendReceipt
from .http_errors import Lanes, post_form, status_error
from .signatures import aliyun_rpc_signature

API_VERSION = "2017-05-25"
CHINA_TIME = ZoneInfo("Asia/Shanghai")  # QuerySendDetails' SendDate is a day in China
RETRIABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",  # per-number flow control: later is fine
        "isv.DAY_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "isp.SYSTEM_ERROR",
        "ServiceUnavailable",
        "InternalError",
        "SignatureNonceUsed",
    }
)


def aliyun_phone_number(e164: str) -> str:
    """Mainland China numbers without a prefix (13800000000); others with their country code
    and no ``+`` (85261234567), as SendSms wants them."""
    digits = e164.removeprefix("+")
    return digits.removeprefix("86") if e164.startswith("+86") else digits


class AliyunSms:
    name = "aliyun"
    channel = Channel.SMS

    def __init__(
        self,
        *,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        template_variable: str = "content",
        region_id: str = "cn-hangzhou",
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._endpoint = endpoint
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._sign_name = sign_name
        self._template_code = template_code
        self._template_variable = template_variable
        self._region_id = region_id
        self._lanes = Lanes(timeout_seconds, client)

    def signed_parameters(
        self, message: OutgoingMessage, *, nonce: str, timestamp: datetime
    ) -> dict[str, str]:
        return self._signed(
            "SendSms",
            {
                "PhoneNumbers": aliyun_phone_number(message.to),
                "SignName": self._sign_name,
                "TemplateCode": self._template_code,
                "TemplateParam": json.dumps(
                    {self._template_variable: message.body},
                    ensure_ascii=False,
                    separators=(",", ":"),
                ),
                "OutId": message.idempotency_key,
            },
            nonce=nonce,
            timestamp=timestamp,
        )

    def _signed(
        self, action: str, given: dict[str, str], *, nonce: str, timestamp: datetime
    ) -> dict[str, str]:
        params = {
            "AccessKeyId": self._access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "Timestamp": timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            **given,
        }
        params["Signature"] = aliyun_rpc_signature("POST", params, self._access_key_secret)
        return params

    async def find(self, message: OutgoingMessage, since: datetime) -> SendReceipt | None:
        """``QuerySendDetails`` for the number on each day since ``since`` (China time): the
        message whose ``OutId`` is this reminder's key, if any."""
        day, today = since.astimezone(CHINA_TIME).date(), datetime.now(CHINA_TIME).date()
        while day <= today:
            for detail in await self._details(message.to, day.strftime("%Y%m%d")):
                if detail.get("OutId") == message.idempotency_key:
                    return SendReceipt(self.name, str(detail.get("BizId", "")), since)
            day += timedelta(days=1)
        return None

    async def _details(self, to: str, send_date: str) -> list[dict[str, object]]:
        params = self._signed(
            "QuerySendDetails",
            {
                "PhoneNumber": aliyun_phone_number(to),
                "SendDate": send_date,
                "PageSize": "50",
                "CurrentPage": "1",
            },
            nonce=str(uuid.uuid4()),
            timestamp=datetime.now(UTC),
        )
        response = await post_form(self._lanes, self.name, self._endpoint, params)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get("Code") if isinstance(answer, dict) else None
        if response.status_code != 200 or code != "OK":
            raise ProviderError(f"lookup: code {code}", retriable=True, provider=self.name)
        listed = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
        return [d for d in listed if isinstance(d, dict)]

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        params = self.signed_parameters(
            message, nonce=str(uuid.uuid4()), timestamp=datetime.now(UTC)
        )
        response = await post_form(self._lanes, self.name, self._endpoint, params)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get("Code") if isinstance(answer, dict) else None
        if response.status_code == 200 and code == "OK" and answer.get("BizId"):
            return SendReceipt(self.name, str(answer["BizId"]), datetime.now(UTC))
        if code in RETRIABLE_CODES:
            raise ProviderError(f"code {code}", retriable=True, provider=self.name)
        if response.status_code == 200:
            raise ProviderError(f"code {code}", retriable=False, provider=self.name)
        raise status_error(self.name, response, code)

    async def aclose(self) -> None:
        await self._lanes.aclose()
