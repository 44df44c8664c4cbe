"""FastAPI side of auth: a bearer-key dependency per set of roles, with verification caches.

Refusals: no key, an unknown or a revoked key is 401 with ``WWW-Authenticate: Bearer``; a valid
key of a role this service does not serve, or that the endpoint does not admit, is 403.
"""

import time
from collections.abc import Iterable
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.keys import Principal, Role, hash_secret, split_api_key
from shared.http.problems import ProblemError

CACHE_SECONDS = 30.0
NEGATIVE_CACHE_SECONDS = 2.0
CACHE_ENTRIES = 10_000
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
V = TypeVar("V")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="collections"'}


class KeyVerifier(Protocol):
    """What the authenticator asks (``ApiKeyStore``: the service's mirror of the registry)."""

    async def verify(self, api_key: str) -> Principal | None: ...


class Authenticator:
    """Verifies bearer keys against the service's mirror of the credential registry.

    Verified keys are cached for ``CACHE_SECONDS`` and refused ones for
    ``NEGATIVE_CACHE_SECONDS`` (by their hash, never the key itself), so neither a busy client
    nor one trying made-up keys costs a query per request. Any registry record about a key
    (issued, revoked) drops it from both caches at once (``forget``), so a revocation is felt,
    and a just-issued key works, as soon as the record arrives; the expiries only bound how long
    a missed record could matter. Each cache holds at most ``CACHE_ENTRIES`` keys.

    A lookup still in flight when a record arrives answers from the registry as it was before:
    its answer is returned to its own request but not cached (``_epoch`` counts the records
    felt), so a revocation can never be undone by a verification that began before it.
    """

    def __init__(
        self,
        store: KeyVerifier,
        served: Iterable[Role],
        cache_seconds: float = CACHE_SECONDS,
        negative_cache_seconds: float = NEGATIVE_CACHE_SECONDS,
    ) -> None:
        self._store = store
        self.served = frozenset(served)
        self._cache_seconds = cache_seconds
        self._negative_seconds = negative_cache_seconds
        self._known: dict[bytes, tuple[float, Principal]] = {}
        self._refused: dict[bytes, tuple[float, str]] = {}  # hash -> (when, key id)
        self._epoch = 0  # registry records felt so far (``forget`` calls)

    async def authenticate(self, api_key: str) -> Principal | None:
        now = time.monotonic()
        cache_key = hash_secret(api_key)
        known = self._known.get(cache_key)
        if known is not None and now - known[0] < self._cache_seconds:
            return known[1]
        refused = self._refused.get(cache_key)
        if refused is not None and now - refused[0] < self._negative_seconds:
            return None
        epoch = self._epoch
        principal = await self._store.verify(api_key)
        if epoch != self._epoch:
            return principal  # a record arrived meanwhile: this answer may predate it
        if principal is None:
            parts = split_api_key(api_key)
            _bounded(self._refused)[cache_key] = (now, parts[0] if parts else "")
        else:
            self._refused.pop(cache_key, None)
            _bounded(self._known)[cache_key] = (now, principal)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a key from both caches (a registry record about it arrived), and keep the
        lookups in flight from caching what they read before it."""
        self._epoch += 1
        for cache_key, (_, principal) in list(self._known.items()):
            if principal.key_id == key_id:
                del self._known[cache_key]
        for cache_key, (_, refused_id) in list(self._refused.items()):
            if refused_id == key_id:
                del self._refused[cache_key]

    def require(self, *roles: Role) -> "RoleGate":
        """A dependency that admits only callers with one of ``roles``."""
        if not set(roles) <= self.served:
            raise ValueError(f"this service does not serve the roles {set(roles) - self.served}")
        return RoleGate(roles, self)

    async def admit(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None,
        roles: tuple[Role, ...],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ProblemError(
                401,
                "Authentication required",
                "Send 'Authorization: Bearer <API key>'.",
                headers=_CHALLENGE,
            )
        principal = await self.authenticate(credentials.credentials)
        if principal is None:
            raise ProblemError(
                401, "Invalid API key", "The key is unknown or revoked.", headers=_CHALLENGE
            )
        if principal.role not in self.served:
            raise ProblemError(
                403, "Forbidden", f"This service does not serve {principal.role.value} keys."
            )
        if principal.role not in roles:
            raise ProblemError(
                403,
                "Forbidden",
                f"This operation needs the role {' or '.join(r.value for r in roles)}.",
            )
        request.state.principal = principal
        return principal


class RoleGate:
    """The dependency admitting callers with one of ``roles``. ``authenticator`` None: the
    app's (``app.state.authenticator``), for routes declared at module level. The roles stay
    readable on the route (the auth matrix test enumerates them)."""

    def __init__(self, roles: tuple[Role, ...], authenticator: Authenticator | None) -> None:
        self.roles = roles
        self._authenticator = authenticator

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = self._authenticator or request.app.state.authenticator
        return await authenticator.admit(request, credentials, self.roles)


def role_required(*roles: Role) -> RoleGate:
    """A dependency for routes declared at module level (see :class:`RoleGate`)."""
    return RoleGate(roles, None)


def _bounded(cache: dict[bytes, V]) -> dict[bytes, V]:
    """The cache, emptied first if it is full (a flood of distinct keys cannot grow it)."""
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
    return cache
