"""The test infrastructure itself: a message through real Kafka, a query on a new database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.infrastructure import TestInfrastructure, provide_infrastructure


@pytest.fixture(scope="module")
async def infra() -> AsyncIterator[TestInfrastructure]:
    """Started once for this module (or shared with the session's, if one is running)."""
    async with provide_infrastructure() as provided:
        yield provided


async def _new_topic(bootstrap: str) -> str:
    topic = f"selftest.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume_one(bootstrap: str, topic: str) -> tuple[bytes, bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"selftest-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 30)
        return message.key, message.value
    finally:
        await consumer.stop()


async def _select_one(infra: TestInfrastructure, database: str) -> int:
    engine = create_async_engine(infra.postgres_url(database))
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_message_goes_through_kafka_and_a_new_database_answers(
    infra: TestInfrastructure,
) -> None:
    topic = await _new_topic(infra.kafka_bootstrap)
    await _produce(infra.kafka_bootstrap, topic, b"loan-1", b"overdue")
    assert await _consume_one(infra.kafka_bootstrap, topic) == (b"loan-1", b"overdue")

    database = f"selftest_{uuid.uuid4().hex[:8]}"
    await infra.create_database(database)
    await infra.create_database(database)  # idempotent
    assert infra.postgres_url(database).startswith("postgresql+asyncpg://")
    assert await _select_one(infra, database) == 1


@pytest.mark.faults
async def test_a_restarted_broker_keeps_its_messages(infra: TestInfrastructure) -> None:
    if not infra.can_restart_kafka:
        pytest.skip(f"Kafka restarts need the local stack; this one is {infra.kind}")
    topic = await _new_topic(infra.kafka_bootstrap)
    await _produce(infra.kafka_bootstrap, topic, b"loan-2", b"before restart")

    await infra.stop_kafka()
    host, _, port = infra.kafka_bootstrap.rpartition(":")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(host, int(port))
    await infra.start_kafka()

    assert await _consume_one(infra.kafka_bootstrap, topic) == (b"loan-2", b"before restart")
