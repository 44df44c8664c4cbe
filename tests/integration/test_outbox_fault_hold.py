"""The outbox relay's fault hook (tests only): it stops a batch where a test wants to kill the
process, committed but not published, or published but not deleted; off unless set."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import create_engine, create_session_factory
from shared.db.kit_tables import KIT_METADATA, outbox
from shared.db.unit_of_work import enqueue
from shared.events.catalog import LOAN_CLOSED
from shared.events.models import ClosureReason, LoanClosed
from shared.kafka.admin import ensure_topics
from shared.kafka.outbox import HoldPoint, OutboxRelay, RelayHold
from shared.kafka.producer import create_producer
from shared.settings import ServiceSettings
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure

pytestmark = pytest.mark.faults


@pytest.fixture
async def engine(infrastructure: TestInfrastructure) -> AsyncIterator[AsyncEngine]:
    database = f"outbox_hold_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    engine = create_engine(infrastructure.postgres_url(database), pool_size=2)
    async with engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
    yield engine
    await engine.dispose()


async def on_topic(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=1500)
        return sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()


async def in_outbox(engine: AsyncEngine, topic: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.topic == topic)
        )
    return int(count or 0)


@pytest.mark.parametrize(("point", "published"), [("before-publish", 0), ("after-publish", 3)])
async def test_the_relay_holds_a_batch_where_the_test_wants_to_kill_it(
    infrastructure: TestInfrastructure, engine: AsyncEngine, point: HoldPoint, published: int
) -> None:
    topic = f"hold.{uuid4().hex[:10]}"
    await ensure_topics(infrastructure.kafka_bootstrap, [topic], 1)
    sessions = create_session_factory(engine)
    events = [
        LOAN_CLOSED.envelope(
            source="tests",
            subject=f"L-{n}",
            tenant="lender-a",
            data=LoanClosed(
                loan_id=f"L-{n}", reason=ClosureReason.SETTLED, closed_at=datetime.now(UTC)
            ),
        )
        for n in range(3)
    ]
    async with sessions() as session, session.begin():
        await enqueue(session, topic, events)
    producer = create_producer(infrastructure.kafka_bootstrap, client_id="hold-tests")
    await producer.start()
    relay = OutboxRelay(sessions, producer, hold=RelayHold(point, 60.0))
    task = asyncio.create_task(relay.run())
    try:

        async def held() -> bool:
            return relay.held_batches == 1

        await eventually(held, within=20)
        assert await on_topic(infrastructure.kafka_bootstrap, topic) == published
        assert await in_outbox(engine, topic) == 3  # killed now, the next relay sends them all
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


def test_the_hook_is_off_unless_a_test_sets_it() -> None:
    assert ServiceSettings().fault_outbox_hold == ""
    assert ServiceSettings(fault_outbox_hold="after-publish").fault_outbox_hold_seconds == 30.0
