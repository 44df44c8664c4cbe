"""The providers' signature schemes, as they document them (pure functions, no I/O)."""

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL followed
    by every POST parameter sorted by name, each name immediately followed by its value."""
    signed = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_percent_encode(value: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986 on UTF-8, only ``A-Za-z0-9-_.~`` left as they
    are, a space as ``%20`` (never ``+``), ``*`` as ``%2A``."""
    return quote(value, safe="-_.~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&percentEncode(canonicalized query)``, parameters sorted by name, without
    ``Signature``."""
    canonical = "&".join(
        f"{aliyun_percent_encode(name)}={aliyun_percent_encode(value)}"
        for name, value in sorted(params.items())
        if name != "Signature"
    )
    return f"{method.upper()}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """RPC signature V1: base64 HMAC-SHA1 of the string to sign, keyed with ``secret + '&'``."""
    string_to_sign = aliyun_string_to_sign(method, params)
    key = (access_key_secret + "&").encode()
    return base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()).decode()
