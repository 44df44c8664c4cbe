"""The providers' signature schemes, written here again on purpose: the emulators check the
notifier's adapters against an implementation that is not theirs."""

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url
    for name, value in sorted(set(params)):
        data += name + value
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _pop_encode(text: str) -> str:
    return quote(text.encode("utf-8"), safe="~-_.")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = "&".join(_pop_encode(k) + "=" + _pop_encode(v) for k, v in pairs)
    return method + "&" + _pop_encode("/") + "&" + _pop_encode(query)


def aliyun_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    mac = hmac.new(
        (secret + "&").encode("utf-8"),
        aliyun_string_to_sign(method, params).encode("utf-8"),
        hashlib.sha1,
    )
    return base64.b64encode(mac.digest()).decode("ascii")
