"""Fixtures of intake's acceptance tests: the running platform's intake, its database, its
topics, and a second lender. Every test works on loans of its own (fresh ids), so the tests
share one platform per session without seeing each other."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import IssuedKey, Role
from shared.db.engine import create_engine
from shared.events.topics import Topic
from tests.harness import RunningPlatform
from tests.integration.intake.support import (
    IntakeTables,
)
from tests.support.factories import (
    new_loan_id,
    report,
)


@pytest.fixture
def intake(platform: RunningPlatform) -> httpx.AsyncClient:
    return platform.clients["intake"]


@pytest.fixture
def lender(platform: RunningPlatform) -> dict[str, str]:
    """Headers of the demo lender (lender one)."""
    return platform.as_lender()


@pytest.fixture
def lender_id(platform: RunningPlatform) -> str:
    return platform.credentials.lender["id"]


@pytest.fixture
def loan_id() -> str:
    return new_loan_id()


@pytest.fixture(scope="session")
async def tables(platform: RunningPlatform) -> AsyncIterator[IntakeTables]:
    engine = create_engine(platform.database_urls["intake"], pool_size=2)
    try:
        yield IntakeTables(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def lender_two(platform: RunningPlatform) -> IssuedKey:
    return await platform.issue(Role.LENDER, "lender-two", "intake acceptance tests")


@pytest.fixture
def as_lender_two(lender_two: IssuedKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {lender_two.api_key}"}


@pytest.fixture
def bootstrap(platform: RunningPlatform) -> str:
    return platform.runtime("intake").settings.kafka_bootstrap_servers


@pytest.fixture
def delinquency_topic(platform: RunningPlatform) -> str:
    return platform.runtime("intake").topic(Topic.LOANS)


@pytest.fixture
def loan_events_topic(platform: RunningPlatform) -> str:
    return platform.runtime("intake").topic(Topic.LOANS)


@pytest.fixture(scope="module")
async def reported_loan(platform: RunningPlatform) -> str:
    """A loan of the demo lender, reported once per module, for requests that are all refused
    (so it keeps its one report: one loan, one history row, one outbox row)."""
    loan_id = new_loan_id()
    response = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=report(loan_id), headers=platform.as_lender()
    )
    assert response.status_code == 202, response.text
    return loan_id
