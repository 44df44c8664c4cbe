"""How an HTTP provider's transport failures and status codes map to ProviderError."""

from collections.abc import Mapping

import httpx

from .base import ProviderError

RETRIABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


async def post_form(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST a form, turning a transport failure (refused, reset, timed out) into a retriable
    error."""
    try:
        return await client.post(url, data=dict(form), headers=headers)
    except httpx.TimeoutException as error:
        raise ProviderError("timed out", retriable=True, provider=provider) from error
    except httpx.TransportError as error:
        reason = f"transport failure ({type(error).__name__})"
        raise ProviderError(reason, retriable=True, provider=provider) from error


def status_error(provider: str, response: httpx.Response, code: object) -> ProviderError:
    """An error from an HTTP status and the provider's own error code (no personal data)."""
    return ProviderError(
        f"HTTP {response.status_code}, code {code}",
        retriable=response.status_code in RETRIABLE_STATUS,
        provider=provider,
    )
