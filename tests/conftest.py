from collections.abc import AsyncIterator

import pytest

from tests.harness import RunningPlatform, running_platform
from tests.infrastructure import TestInfrastructure, provide_infrastructure


@pytest.fixture(scope="session")
async def infrastructure() -> AsyncIterator[TestInfrastructure]:
    """Kafka and PostgreSQL, started (or found) once for the whole test session."""
    async with provide_infrastructure() as infra:
        yield infra


@pytest.fixture(scope="session")
async def platform(infrastructure: TestInfrastructure) -> AsyncIterator[RunningPlatform]:
    """The four services, running in this process against the session's infrastructure."""
    async with running_platform(infrastructure) as running:
        yield running
