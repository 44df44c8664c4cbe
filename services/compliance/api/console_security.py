"""What keeps the console safe: a session cookie that holds the API key sealed (AES-256-GCM
under a key derived from the log's signing key, never in the clear), checked against the
credential registry on every request (a revoked key stops working as soon as the auth cache
hears of it, at most ``CACHE_SECONDS`` later); forms bound to the session (CSRF) and posted
from the console itself; security headers on every response.

The API key is a bearer credential: nothing here logs it, a cookie or a form.
"""

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Authenticator, Principal, Role

PREFIX = "/console"
SESSION_COOKIE = "console_session"
SIGN_IN_COOKIE = "console_sign_in"
SESSION_SECONDS = 8 * 3600  # a session lasts a working day, then the key is asked again
ADMITTED = (Role.AUDITOR, Role.LENDER)
MAX_FORM_BYTES = 4096

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self'; "
    "connect-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Pure ASGI middleware: every console response gets ``HEADERS`` (replacing any
    ``Cache-Control`` a route set)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
        self._names = {name for name, _ in self._headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n not in self._names]
                message = {**message, "headers": [*kept, *self._headers]}
            await send(message)

        await self._app(scope, receive, with_headers)


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A key of its own for ``purpose``, derived (HKDF-SHA256) from a secret of the settings."""
    if not secret:
        raise ValueError("the console needs a secret to derive its keys from")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Sessions:
    """Seals an API key into a session cookie value and opens it; binds forms to a session."""

    seal_key: bytes
    csrf_key: bytes
    lifetime: int = SESSION_SECONDS

    @classmethod
    def from_secret(cls, secret: str) -> "Sessions":
        return cls(
            derive_key(secret, b"collections.compliance.console.session.v1"),
            derive_key(secret, b"collections.compliance.console.csrf.v1"),
        )

    def seal(self, api_key: str, now: float | None = None) -> str:
        nonce = os.urandom(12)
        claims = orjson.dumps({"k": api_key, "t": int(now if now is not None else time.time())})
        return _b64(nonce + AESGCM(self.seal_key).encrypt(nonce, claims, b"console-session"))

    def open(self, value: str | None, now: float | None = None) -> str | None:
        """The API key the cookie holds, or None (absent, tampered, sealed by another key, or
        older than the session's lifetime)."""
        if not value or len(value) > 2048:
            return None
        try:
            raw = _unb64(value)
            claims = orjson.loads(
                AESGCM(self.seal_key).decrypt(raw[:12], raw[12:], b"console-session")
            )
        except (ValueError, InvalidTag, orjson.JSONDecodeError):
            return None
        issued = claims.get("t") if isinstance(claims, dict) else None
        key = claims.get("k") if isinstance(claims, dict) else None
        if not isinstance(issued, int) or not isinstance(key, str):
            return None
        if (now if now is not None else time.time()) - issued > self.lifetime:
            return None
        return key

    def csrf_for(self, purpose: str, bound_to: str) -> str:
        """The hidden token of a form: an HMAC of what it is bound to (the session cookie, or
        the sign-in form's own nonce cookie), so it cannot be made without the key."""
        message = f"{purpose}\n{bound_to}".encode()
        return _b64(hmac.new(self.csrf_key, message, hashlib.sha256).digest())

    def csrf_valid(self, purpose: str, bound_to: str | None, given: str | None) -> bool:
        if not bound_to or not given:
            return False
        return hmac.compare_digest(self.csrf_for(purpose, bound_to), given)


def new_nonce() -> str:
    return _b64(os.urandom(24))


def secure(request: Request) -> bool:
    """Whether the console is reached over TLS (the cookie is then ``Secure``)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, secure=secure(request), httponly=True, samesite="strict"
    )


def same_origin_post(request: Request) -> bool:
    """Whether a POST comes from the console's own page, by what the browser says when it says
    anything: ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``), and an ``Origin``
    other than ``null`` must be this one (under ``no-referrer`` a same-origin form may send
    ``Origin: null``: ``Sec-Fetch-Site`` decides then)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


class FormRefusedError(Exception):
    """A POST not from the console's own form: another origin, no or a wrong CSRF token, not
    ``application/x-www-form-urlencoded``, or too large."""


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each), once it is known to come from here (the
    CSRF token is checked by the caller, which knows what the form is bound to)."""
    if not same_origin_post(request):
        raise FormRefusedError
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise FormRefusedError
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefusedError
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise FormRefusedError from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


class SignInRequiredError(Exception):
    """No session, or one whose key is no longer valid (revoked, expired, unknown)."""


async def signed_in(request: Request) -> Principal:
    """The principal of the session's key, verified now by the service's authenticator (its
    cache: a revocation is felt as soon as the registry record arrives, at most
    ``CACHE_SECONDS`` later); SignInRequiredError otherwise."""
    sessions: Sessions = request.app.state.console.sessions
    authenticator: Authenticator = request.app.state.console.authenticator
    api_key = sessions.open(request.cookies.get(SESSION_COOKIE))
    if api_key is None:
        raise SignInRequiredError
    principal = await authenticator.authenticate(api_key)
    if principal is None or principal.role not in ADMITTED:
        raise SignInRequiredError
    return principal
