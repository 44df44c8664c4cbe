"""What keeps the borrowers' site safe: security headers on every response, forms bound to
their link (CSRF), a limit on refused tokens per client address, the bearer token of
``/v1/me``, and errors that never echo a token.

A link token is a bearer credential in the path (``/b/<token>``) or the ``Authorization``
header: nothing here logs a path, a header or an exception's message.
"""

import base64
import hashlib
import hmac
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.application.borrower_desk import BorrowerDesk, LinkRefusedError
from shared.borrower_links import LinkClaims
from shared.http.problems import RETRY_AFTER_SECONDS, ProblemError
from shared.kafka.faults import is_transient

log = structlog.get_logger(__name__)

REFUSED_TOKENS_LIMIT = "10/5minutes"
"""Refused tokens (unknown, tampered, expired, revoked) one client address may present before
every token it presents is answered 429 for the rest of the window."""


def content_security_policy(style_hash: str) -> str:
    """Nothing loads but the page's own inline style (by its hash); forms post only here; no
    page frames this one."""
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{style_hash}'; "
        "img-src 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; "
        "base-uri 'none'"
    )


def security_headers(style_hash: str) -> list[tuple[bytes, bytes]]:
    headers = {
        "Content-Security-Policy": content_security_policy(style_hash),
        "Referrer-Policy": "no-referrer",  # the token in the URL never leaves in a Referer
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    }
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


ErrorPage = Callable[[Request, int], Response]
"""The answer to an error no handler answered: the request (never logged) and the status."""


class BorrowerSiteGuard:
    """Pure ASGI middleware around the whole site: every response gets the security headers
    (replacing any ``Cache-Control``), and an error no handler answered becomes ``error_page``
    (503 with ``Retry-After`` when retrying can succeed, such as the database away; else 500),
    logged by its type and place only (not the path, which holds the token, nor the message).
    Nothing is re-raised to the server, whose own error log would print the request."""

    def __init__(self, app: ASGIApp, style_hash: str, error_page: ErrorPage) -> None:
        self._app = app
        self._headers = security_headers(style_hash)
        self._names = {name for name, _ in self._headers}
        self._error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [(n, v) for n, v in message.get("headers", []) if n not in self._names]
                message = {**message, "headers": [*kept, *self._headers]}
            await send(message)

        try:
            await self._app(scope, receive, with_headers)
        except Exception as error:
            transient = is_transient(error)
            (log.warning if transient else log.error)(
                "transient error on the borrowers' site"
                if transient
                else "unhandled error on the borrowers' site",
                error_type=type(error).__name__,
                where=traceback.format_tb(error.__traceback__)[-3:],
            )
            if started:
                return
            response = self._error_page(Request(scope), 503 if transient else 500)
            if transient:
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            await response(scope, receive, with_headers)


def derive_key(link_keys: str, purpose: bytes) -> bytes:
    """A key of its own for ``purpose``, derived (HKDF-SHA256) from the link keys' secret."""
    if not link_keys:
        raise ValueError("link_keys: required by the borrowers' site")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        link_keys.encode()
    )


@dataclass(frozen=True)
class LinkCsrf:
    """The hidden token of the page's forms: an HMAC of the link token, so it is good only for
    forms of that link and cannot be made without the link keys."""

    key: bytes

    @classmethod
    def from_link_keys(cls, link_keys: str) -> "LinkCsrf":
        return cls(derive_key(link_keys, b"collections.borrower-site.csrf.v1"))

    def token_for(self, link_token: str) -> str:
        digest = hmac.new(self.key, link_token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def valid(self, link_token: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.token_for(link_token), given)


def allowed_origins(base_url: str, request: Request) -> set[str]:
    """This site's origins: the configured base URL's and the one the request came to."""
    origins = {f"{request.url.scheme}://{request.url.netloc}"}
    parts = urlsplit(base_url)
    if parts.scheme and parts.netloc:
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def same_origin_post(request: Request, base_url: str) -> bool:
    """Whether a POST comes from this site's own page, by what the browser says when it says
    anything: ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``: typed by the user), and
    an ``Origin`` other than ``null`` must be ours. (Under ``Referrer-Policy: no-referrer`` a
    browser sends ``Origin: null`` with a same-origin form: ``Sec-Fetch-Site`` decides then.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin in allowed_origins(base_url, request)


class TokenGuessing:
    """Counts refused tokens per client address (moving window, in memory: per process)."""

    def __init__(self, limit: str = REFUSED_TOKENS_LIMIT) -> None:
        item = parse(limit)
        self._item: RateLimitItem = item
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may present a token again, or None when it may now."""
        if self._limiter.test(self._item, address):
            return None
        stats = self._limiter.get_window_stats(self._item, address)
        return max(1, int(stats.reset_time - time.time()) + 1)

    def refused(self, address: str) -> None:
        self._limiter.hit(self._item, address)


class TooManyRefusalsError(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many refused tokens")
        self.retry_after = retry_after


@dataclass(frozen=True)
class BorrowerSite:
    """What the site's routes are given (``app.state.borrower_site``)."""

    desk: BorrowerDesk
    csrf: LinkCsrf
    guessing: TokenGuessing
    base_url: str
    lender_names: dict[str, str]


def site_of(request: Request) -> BorrowerSite:
    site: BorrowerSite = request.app.state.borrower_site
    return site


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def open_link(request: Request, token: str) -> LinkClaims:
    """The claims of ``token``; raises TooManyRefusalsError while the client address is
    limited, LinkRefusedError (counted against the address) when the token opens nothing."""
    site = site_of(request)
    address = client_address(request)
    wait = site.guessing.retry_after(address)
    if wait is not None:
        raise TooManyRefusalsError(wait)
    try:
        return await site.desk.open_link(token)
    except LinkRefusedError:
        site.guessing.refused(address)
        raise


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="borrower_link",
    description="The token of the link in a message to the borrower (the part after /b/).",
)
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="borrower"'}


async def bearer_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> LinkClaims:
    """The link claims of ``Authorization: Bearer <token>``: 401 when missing or unknown,
    410 when expired or revoked, 429 while the client address is limited."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(
            401,
            "Unauthorized",
            "Send the token of your link as 'Authorization: Bearer <token>'.",
            headers=BEARER_CHALLENGE,
        )
    try:
        return await open_link(request, credentials.credentials)
    except TooManyRefusalsError as refused:
        raise ProblemError(
            429,
            "Too many requests",
            "Too many refused tokens from this address; retry later.",
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    except LinkRefusedError as refused:
        if refused.gone:
            raise ProblemError(410, "Gone", "This link is no longer valid.") from None
        raise ProblemError(
            401, "Unauthorized", "This token opens nothing.", headers=BEARER_CHALLENGE
        ) from None


Borrower = Annotated[LinkClaims, Depends(bearer_claims)]
