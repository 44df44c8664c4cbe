from collections.abc import AsyncIterator

import pytest

from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack, gateway_stack


@pytest.fixture(scope="package")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[GatewayStack]:
    """Intake and the gateway, with the two demo agencies serving CN at shares 3:1."""
    async with gateway_stack(infrastructure) as running:
        await running.register(NORTH, share=3)
        await running.register(SOUTH, share=1)
        yield running
