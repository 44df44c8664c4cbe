"""An HTTP provider's client (its connection pool), and how its transport failures and status
codes map to ProviderError."""

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from .base import ProviderError

RETRIABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

CONNECTIONS = 100


class Lanes:
    """An HTTP provider's connections as ``CONNECTIONS`` lanes, each a client of one connection
    (made when first used); a request takes a free lane (or waits for one) and gives it back.

    One client with a pool of a hundred connections would cost more per request: httpcore's
    pool looks at every connection (and, for each idle one, at every other) and at every queued
    request each time a request comes or goes. A lane's pool has one connection, kept alive."""

    def __init__(self, timeout_seconds: float, client: httpx.AsyncClient | None = None) -> None:
        self._timeout = timeout_seconds
        self._given = client  # one given client (a test's): every lane shares it
        self._clients: list[httpx.AsyncClient | None] = [None] * CONNECTIONS
        self._tls: ssl.SSLContext | None = None  # one for all lanes (each would load the CAs)
        self._free: asyncio.LifoQueue[int] = asyncio.LifoQueue()
        for index in range(CONNECTIONS):
            self._free.put_nowait(index)

    def _client(self, index: int) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        client = self._clients[index]
        if client is None:
            self._tls = self._tls or httpx.create_ssl_context()
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            client = httpx.AsyncClient(timeout=self._timeout, limits=limits, verify=self._tls)
            self._clients[index] = client
        return client

    @asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        index = await self._free.get()
        try:
            yield self._client(index)
        finally:
            self._free.put_nowait(index)

    async def aclose(self) -> None:
        for client in {id(c): c for c in [*self._clients, self._given] if c}.values():
            await client.aclose()


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport failures before the request left: the provider cannot have the message."""


async def post_form(
    lanes: Lanes,
    provider: str,
    url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST a form. A failure before the request left (refused, no connection) is retriable;
    one after (timed out waiting, connection dropped) is ambiguous: it may have gone out."""
    try:
        async with lanes.lane() as client:
            return await client.post(url, data=dict(form), headers=headers)
    except NOT_SENT as error:
        reason = f"not sent ({type(error).__name__})"
        raise ProviderError(reason, retriable=True, provider=provider) from error
    except httpx.TransportError as error:
        reason = f"no answer ({type(error).__name__})"
        raise ProviderError(reason, retriable=False, provider=provider, ambiguous=True) from error


async def get_json(
    lanes: Lanes,
    provider: str,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> object:
    """GET a provider's JSON resource (a lookup); any failure is a ProviderError (it cannot
    tell)."""
    try:
        async with lanes.lane() as client:
            response = await client.get(url, params=dict(params), headers=headers)
    except httpx.TransportError as error:
        reason = f"lookup failed ({type(error).__name__})"
        raise ProviderError(reason, retriable=True, provider=provider) from error
    if response.status_code != 200:
        raise status_error(provider, response, None)
    try:
        return response.json()
    except ValueError as error:
        raise ProviderError("lookup answer not JSON", retriable=True, provider=provider) from error


def status_error(provider: str, response: httpx.Response, code: object) -> ProviderError:
    """An error from an HTTP status and the provider's own error code (no personal data)."""
    return ProviderError(
        f"HTTP {response.status_code}, code {code}",
        retriable=response.status_code in RETRIABLE_STATUS,
        provider=provider,
    )
