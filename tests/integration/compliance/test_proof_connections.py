"""Proofs are read on connections lent without a liveness ping: a connection PostgreSQL closed
meanwhile costs the read made again on a new one, never an error to the auditor."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from tests.harness import RunningPlatform, eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.compliance.events import publish_contacts

LENDER = "lender-proof-connections"


@pytest.fixture(scope="module")
async def platform(infrastructure: TestInfrastructure) -> AsyncIterator[RunningPlatform]:
    async with running_platform(infrastructure, services=("compliance",)) as running:
        yield running


async def test_a_proof_read_on_a_closed_connection_is_made_again(
    platform: RunningPlatform,
) -> None:
    client = platform.clients["compliance"]
    headers = platform.as_auditor_of_every_lender()
    await publish_contacts(platform.runtime("compliance"), LENDER, "L-PC-1", "ref-pc", 4)
    size = await eventually(lambda: _size_at_least(client, headers, 5), within=60)
    params = {"leaf_index": 1, "tree_size": size}
    first = await client.get("/v1/audit/proofs/inclusion", params=params, headers=headers)
    assert first.status_code == 200, first.text
    async with platform.runtime("compliance").sessions() as session:
        closed = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
        )
    assert closed
    again = await client.get("/v1/audit/proofs/inclusion", params=params, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["hashes"] == first.json()["hashes"]


async def _size_at_least(
    client: httpx.AsyncClient, headers: dict[str, str], size: int
) -> int | None:
    response = await client.get("/v1/audit/checkpoint", headers=headers)
    found: int = response.json()["tree_size"]
    return found if found >= size else None
