"""FastAPI side of auth: a bearer-key dependency with a short verification cache."""

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.keys import ApiKeyStore, Principal, Role, hash_secret
from shared.http.problems import ProblemError

CACHE_SECONDS = 30.0
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")


class Authenticator:
    """Verifies bearer keys against the service's key table.

    Verified keys are cached for ``CACHE_SECONDS`` (by their hash, never the key itself), so a
    busy endpoint does not query per request. A revocation drops the key from the cache at
    once (see ``revocations``); the expiry is the bound when that notice cannot arrive.
    Failures are not cached: a key issued a moment ago works at once.
    """

    def __init__(self, store: ApiKeyStore, cache_seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def authenticate(self, api_key: str) -> Principal | None:
        now = time.monotonic()
        cache_key = hash_secret(api_key)
        cached = self._cache.get(cache_key)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        principal = await self._store.verify(api_key)
        if principal is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now, principal)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (it was revoked): its next use is verified again."""
        for cache_key, (_, principal) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[cache_key]

    def forget_all(self) -> None:
        self._cache.clear()

    def require(self, *roles: Role) -> Callable[..., Awaitable[Principal]]:
        """A dependency that admits only callers with one of ``roles``."""

        async def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> Principal:
            return await self.admit(request, credentials, roles)

        return dependency

    async def admit(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None,
        roles: tuple[Role, ...],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ProblemError(
                401, "Authentication required", "Send 'Authorization: Bearer <API key>'."
            )
        principal = await self.authenticate(credentials.credentials)
        if principal is None:
            raise ProblemError(401, "Invalid API key", "The key is unknown or revoked.")
        if principal.role not in roles:
            raise ProblemError(
                403,
                "Forbidden",
                f"This operation needs the role {' or '.join(r.value for r in roles)}.",
            )
        request.state.principal = principal
        return principal


def role_required(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency for routes declared at module level: the app's authenticator
    (``app.state.authenticator``) admits only callers with one of ``roles``."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        return await authenticator.admit(request, credentials, roles)

    return dependency
