"""The authenticator's caches: verified keys and refused ones are remembered, for different
times, and a registry record about a key makes both forget it at once."""

import asyncio

import pytest

from shared.auth import Authenticator, Principal, Role
from shared.auth.dependencies import CACHE_SECONDS, NEGATIVE_CACHE_SECONDS
from shared.auth.keys import new_api_key, split_api_key


class CountingVerifier:
    """Knows the keys it is given; counts how often it is asked."""

    def __init__(self) -> None:
        self.known: dict[str, Principal] = {}
        self.asked = 0

    async def verify(self, api_key: str) -> Principal | None:
        self.asked += 1
        return self.known.get(api_key)

    def add(self, api_key: str, role: Role = Role.LENDER) -> Principal:
        parts = split_api_key(api_key)
        assert parts is not None
        principal = Principal(role, "lender-1", parts[0])
        self.known[api_key] = principal
        return principal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("shared.auth.dependencies.time", clock)
    return clock


async def test_an_unknown_key_is_refused_from_the_cache_for_a_short_time(clock: Clock) -> None:
    store = CountingVerifier()
    auth = Authenticator(store, [Role.LENDER])
    _, api_key = new_api_key()
    assert await auth.authenticate(api_key) is None
    clock.now += NEGATIVE_CACHE_SECONDS / 2
    assert await auth.authenticate(api_key) is None
    assert store.asked == 1
    store.add(api_key)
    clock.now += NEGATIVE_CACHE_SECONDS
    assert await auth.authenticate(api_key) is not None
    assert store.asked == 2


async def test_a_record_about_a_key_clears_its_refusal_and_its_verification(clock: Clock) -> None:
    store = CountingVerifier()
    auth = Authenticator(store, [Role.LENDER])
    key_id, api_key = new_api_key()
    assert await auth.authenticate(api_key) is None
    principal = store.add(api_key)
    auth.forget(key_id)  # issued: works at once, not after the negative expiry
    assert await auth.authenticate(api_key) == principal
    del store.known[api_key]
    assert await auth.authenticate(api_key) == principal  # cached
    auth.forget(key_id)  # revoked
    assert await auth.authenticate(api_key) is None
    assert store.asked == 3


async def test_a_verified_key_is_asked_again_after_the_cache_time(clock: Clock) -> None:
    store = CountingVerifier()
    auth = Authenticator(store, [Role.LENDER])
    _, api_key = new_api_key()
    store.add(api_key)
    for _ in range(3):
        assert await auth.authenticate(api_key) is not None
    assert store.asked == 1
    clock.now += CACHE_SECONDS + 1
    assert await auth.authenticate(api_key) is not None
    assert store.asked == 2


def test_an_endpoint_may_not_admit_a_role_its_service_does_not_serve() -> None:
    auth = Authenticator(CountingVerifier(), [Role.AUDITOR])
    assert auth.require(Role.AUDITOR).roles == (Role.AUDITOR,)
    with pytest.raises(ValueError, match="does not serve"):
        auth.require(Role.LENDER)


class HeldVerifier(CountingVerifier):
    """Answers from what it knew when asked, but only once ``release`` is set: a lookup that
    is still in flight when the registry record arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.asked_event = asyncio.Event()
        self.release = asyncio.Event()

    async def verify(self, api_key: str) -> Principal | None:
        answer = await super().verify(api_key)
        self.asked_event.set()
        await self.release.wait()
        return answer


async def test_a_revocation_during_a_lookup_is_not_undone_by_its_answer(clock: Clock) -> None:
    store = HeldVerifier()
    auth = Authenticator(store, [Role.LENDER])
    key_id, api_key = new_api_key()
    store.add(api_key)
    lookup = asyncio.create_task(auth.authenticate(api_key))
    await store.asked_event.wait()  # the store said "valid"; the answer is on its way back
    del store.known[api_key]
    auth.forget(key_id)  # the revocation is mirrored and felt meanwhile
    store.release.set()
    await lookup
    assert await auth.authenticate(api_key) is None
    assert store.asked == 2


async def test_an_issue_during_a_refused_lookup_is_not_undone_by_its_answer(clock: Clock) -> None:
    store = HeldVerifier()
    auth = Authenticator(store, [Role.LENDER])
    key_id, api_key = new_api_key()
    lookup = asyncio.create_task(auth.authenticate(api_key))
    await store.asked_event.wait()  # the store said "unknown"
    principal = store.add(api_key)
    auth.forget(key_id)  # the key is issued and mirrored meanwhile
    store.release.set()
    assert await lookup is None
    assert await auth.authenticate(api_key) == principal
