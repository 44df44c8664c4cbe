"""Kafka down: intake keeps accepting reports, and once Kafka is back every one of them is
published, each exactly once.

Stopping the broker needs the local stack (``tests/infrastructure.py``): run this file without
``COLLECTIONS_TEST_KAFKA_BOOTSTRAP``/``COLLECTIONS_TEST_POSTGRES_URL``; with them it is skipped.
"""

import asyncio
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text

from shared.events.envelope import message_key
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.intake.support import (
    IntakeTables,
    read_topic,
)
from tests.support.factories import (
    new_loan_id,
    report,
)

REPORTS = 50


@pytest.mark.faults
async def test_reports_made_while_kafka_is_down_are_all_published_once(
    infrastructure: TestInfrastructure,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    bootstrap: str,
    delinquency_topic: str,
) -> None:
    if not infrastructure.can_restart_kafka:
        pytest.skip("stopping Kafka needs the local stack: run without COLLECTIONS_TEST_* set")
    loan_ids = [new_loan_id("L-outage") for _ in range(REPORTS)]
    keys = [message_key(lender_id, loan_id) for loan_id in loan_ids]

    await infrastructure.stop_kafka()
    try:
        responses = [
            await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)
            for loan_id in loan_ids
        ]
        assert [r.status_code for r in responses] == [202] * REPORTS, responses[-1].text
        await asyncio.sleep(1)  # the relay tries, and fails, meanwhile
        assert await _unpublished(tables, keys) == REPORTS
    finally:
        await infrastructure.start_kafka()

    event_ids = {UUID(r.json()["event_id"]) for r in responses}
    published = await read_topic(bootstrap, delinquency_topic, event_ids, within=90)
    assert set(published) == event_ids
    assert {event_id: len(copies) for event_id, copies in published.items()} == dict.fromkeys(
        event_ids, 1
    )
    for response in responses:
        (copy,) = published[UUID(response.json()["event_id"])]
        assert copy.key == message_key(lender_id, response.json()["loan_id"])
    await eventually(lambda: _all_marked(tables, keys), within=30)


async def _unpublished(tables: IntakeTables, keys: list[str]) -> int:
    async with tables.engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM outbox "
                "WHERE message_key = ANY(:keys) AND published_at IS NULL"
            ),
            {"keys": keys},
        )
    return int(waiting or 0)


async def _all_marked(tables: IntakeTables, keys: list[str]) -> bool:
    return await _unpublished(tables, keys) == 0
