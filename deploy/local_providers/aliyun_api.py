"""An Alibaba Cloud-compatible Dysmsapi endpoint (``/aliyun/``, GET or POST, RPC style,
version 2017-05-25, ``SendSms`` and ``QuerySendDetails``): the POP gateway's checks
(parameters, access key, time stamp, nonce, HMAC-SHA1 signature) and SendSms's (numbers, sign
name, template, its parameters), with Alibaba's error codes and shape; then the SmsReport push
to the configured receipt URL."""

import json
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .callbacks import CallbackPoster
from .config import EmulatorConfig
from .journal import Faults, Journal
from .signing import aliyun_signature, aliyun_string_to_sign

COMMON = (
    "AccessKeyId",
    "Action",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)
MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
INTERNATIONAL = re.compile(r"^[1-9]\d{7,14}$")
TEMPLATE_VARIABLE = re.compile(r"\$\{(\w+)\}")
MAX_SKEW = timedelta(minutes=15)
CHINA_TIME = ZoneInfo("Asia/Shanghai")


class AliyunError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def answer(body: dict[str, Any], status: int, xml: bool) -> Response:
    if not xml:
        return JSONResponse(body, status_code=status)
    fields = "".join(f"<{key}>{value}</{key}>" for key, value in body.items())
    root = "Error" if status != 200 else "SendSmsResponse"
    text = f'<?xml version="1.0" encoding="UTF-8"?><{root}>{fields}</{root}>'
    return Response(text, status_code=status, media_type="text/xml")


def aliyun_router(
    config: EmulatorConfig, journal: Journal, faults: Faults, callbacks: CallbackPoster
) -> APIRouter:
    router = APIRouter()
    used_nonces: set[str] = set()

    @router.api_route("/aliyun", methods=["GET", "POST"])
    @router.api_route("/aliyun/", methods=["GET", "POST"])
    async def rpc(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            raw = (await request.body()).decode("utf-8", errors="replace")
            params.update(parse_qsl(raw, keep_blank_values=True))
        request_id = str(uuid.uuid4()).upper()
        xml = params.get("Format", "XML").upper() != "JSON"
        fault = faults.take("aliyun")
        if fault is not None:
            await fault.before_handling()
            if fault.status is not None:
                code = fault.code or "ServiceUnavailable"
                body = {"RequestId": request_id, "Code": code, "Message": "injected fault"}
                return answer(body, fault.status, xml)
        response = _handle(request.method, params, request_id, xml)
        if fault is not None:
            await fault.after_handling()
        return response

    def _handle(method: str, params: dict[str, str], request_id: str, xml: bool) -> Response:
        try:
            _authenticate(method, params, config, used_nonces)
            if params["Action"] == "QuerySendDetails":
                details = _send_details(params, journal)
                return answer({"RequestId": request_id, "Code": "OK", **details}, 200, xml)
            sent = _send_sms(params, config)
        except AliyunError as refusal:
            body = {"RequestId": request_id, "Code": refusal.code, "Message": refusal.message}
            if refusal.status != 200:
                body["HostId"] = "dysmsapi.aliyuncs.com"
            return answer(body, refusal.status, xml)
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        for number in sent["numbers"]:
            journal.record(
                channel="sms",
                to=_e164(number),
                subject=None,
                body=sent["text"],
                provider="aliyun",
                provider_message_id=biz_id,
                client_reference=params.get("OutId"),
            )
        if config.aliyun_push_url:
            callbacks.later((config.aliyun_push_url, {"json_body": _reports(sent, biz_id, params)}))
        body = {"Message": "OK", "RequestId": request_id, "Code": "OK", "BizId": biz_id}
        return answer(body, 200, xml)

    return router


def _authenticate(
    method: str, params: dict[str, str], config: EmulatorConfig, used_nonces: set[str]
) -> None:
    for name in COMMON:
        if not params.get(name):
            raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    if params["Version"] != "2017-05-25":
        raise AliyunError(400, "InvalidVersion", "Specified parameter Version is not valid.")
    if params["Action"] not in ("SendSms", "QuerySendDetails"):
        raise AliyunError(404, "InvalidAction.NotFound", "Specified api is not found.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise AliyunError(
            400, "InvalidSignatureMethod", "Specified signature method/version is not supported."
        )
    secret = config.aliyun_access_keys.get(params["AccessKeyId"])
    if secret is None:
        raise AliyunError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    try:
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AliyunError(
            400, "InvalidTimeStamp.Format", "Specified time stamp is not in ISO 8601 UTC."
        ) from None
    if abs(datetime.now(UTC) - stamp) > MAX_SKEW:
        raise AliyunError(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
    expected = aliyun_signature(method, params, secret)
    if not secrets.compare_digest(expected, params["Signature"]):
        raise AliyunError(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:"
            + aliyun_string_to_sign(method, params),
        )
    if params["SignatureNonce"] in used_nonces:
        raise AliyunError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    used_nonces.add(params["SignatureNonce"])


def _send_sms(params: dict[str, str], config: EmulatorConfig) -> dict[str, Any]:
    for name in ("PhoneNumbers", "SignName", "TemplateCode"):
        if not params.get(name):
            raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    numbers = params["PhoneNumbers"].split(",")
    if not all(MAINLAND_MOBILE.match(n) or INTERNATIONAL.match(n) for n in numbers):
        raise AliyunError(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    if params["SignName"] not in config.aliyun_sign_names:
        raise AliyunError(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
    template = config.aliyun_templates.get(params["TemplateCode"])
    if template is None:
        raise AliyunError(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    try:
        values = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        raise AliyunError(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法") from None
    if not isinstance(values, dict):
        raise AliyunError(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
    wanted = set(TEMPLATE_VARIABLE.findall(template))
    if not wanted <= set(values):
        raise AliyunError(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
    text = TEMPLATE_VARIABLE.sub(lambda match: str(values[match.group(1)]), template)
    return {"numbers": numbers, "text": f"【{params['SignName']}】{text}"}


def _send_details(params: dict[str, str], journal: Journal) -> dict[str, Any]:
    """QuerySendDetails: what was sent to ``PhoneNumber`` on ``SendDate`` (yyyyMMdd, China)."""
    for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
        if not params.get(name):
            raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    if not re.fullmatch(r"\d{8}", params["SendDate"]):
        raise AliyunError(200, "isv.INVALID_PARAMETERS", "参数格式不正确")
    to = _e164(params["PhoneNumber"])
    found = []
    for m in journal.messages(to):
        sent_at = datetime.fromisoformat(m.received_at).astimezone(CHINA_TIME)
        if m.provider == "aliyun" and sent_at.strftime("%Y%m%d") == params["SendDate"]:
            found.append(
                {
                    "PhoneNum": params["PhoneNumber"],
                    "SendStatus": 3,
                    "ErrCode": "DELIVERED",
                    "Content": m.body,
                    "SendDate": sent_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "ReceiveDate": sent_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "OutId": m.client_reference or "",
                    "BizId": m.provider_message_id,
                }
            )
    return {"TotalCount": len(found), "SmsSendDetailDTOs": {"SmsSendDetailDTO": found}}


def _e164(number: str) -> str:
    return f"+86{number}" if MAINLAND_MOBILE.match(number) else f"+{number}"


def _reports(sent: dict[str, Any], biz_id: str, params: dict[str, str]) -> list[dict[str, Any]]:
    now = datetime.now(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")
    return [
        {
            "phone_number": number,
            "send_time": now,
            "report_time": now,
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "sms_size": "1",
            "biz_id": biz_id,
            "out_id": params.get("OutId", ""),
        }
        for number in sent["numbers"]
    ]


def inbound_message(sender: str, body: str, sign_name: str) -> list[dict[str, Any]]:
    """What the SmsUp push carries when a borrower replies (mainland numbers without +86)."""
    number = sender.removeprefix("+")
    number = number.removeprefix("86") if sender.startswith("+86") else number
    return [
        {
            "phone_number": number,
            "send_time": datetime.now(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S"),
            "content": body,
            "sign_name": sign_name,
            "dest_code": "1234",
            "sequence_id": secrets.randbelow(10**10),
        }
    ]
