"""How an HTTP provider's transport failures and status codes map to ProviderError."""

from collections.abc import Mapping

import httpx

from .base import ProviderError

RETRIABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport failures before the request left: the provider cannot have the message."""


async def post_form(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST a form. A failure before the request left (refused, no connection) is retriable;
    one after (timed out waiting, connection dropped) is ambiguous: it may have gone out."""
    try:
        return await client.post(url, data=dict(form), headers=headers)
    except NOT_SENT as error:
        reason = f"not sent ({type(error).__name__})"
        raise ProviderError(reason, retriable=True, provider=provider) from error
    except httpx.TransportError as error:
        reason = f"no answer ({type(error).__name__})"
        raise ProviderError(reason, retriable=False, provider=provider, ambiguous=True) from error


async def get_json(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> object:
    """GET a provider's JSON resource (a lookup); any failure is a ProviderError (it cannot
    tell)."""
    try:
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
