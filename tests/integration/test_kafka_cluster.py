"""The dev stack's three-broker KRaft cluster (``LocalInfrastructure(kafka_brokers=3)``): it
starts with a three-voter quorum, its own topics have 3 replicas, and a topic created the way
the services create theirs (3 replicas, ``min.insync.replicas`` 2) takes ``acks=all`` writes
with one broker SIGKILLed, none with two, and all of them again once one is back."""

from __future__ import annotations

import asyncio
import contextlib
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.kafka.admin import ensure_topics
from shared.kafka.producer import create_producer
from tests.infrastructure import TestInfrastructure
from tests.support.topics import replication_of

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

WRITE_WITHIN = 60.0  # one broker down: its partitions move once the controller fences it (~9 s)
REFUSED_FOR = 10.0  # two down: no write is acknowledged in this long


async def _write(bootstrap: str, topic: str, value: bytes, within: float) -> None:
    """One ``acks=all`` write with the services' producer; raises unless acknowledged in time."""
    producer = create_producer(bootstrap, client_id=f"cluster-test-{uuid4().hex[:6]}")
    try:
        async with asyncio.timeout(within):
            # Inside the time limit: with the quorum lost, no broker can hand out a producer
            # id, and an idempotent producer's start waits for one.
            await producer.start()
            await producer.send_and_wait(topic, value, key=b"loan")
    finally:
        # A write still pending (two brokers down) is abandoned, not waited for.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                await producer.stop()


async def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        values: list[bytes] = []
        async with asyncio.timeout(30):
            while len(values) < end:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                values += [m.value for m in batch.get(partition, []) if m.value is not None]
        return values
    finally:
        await consumer.stop()


async def test_a_cluster_topic_takes_acks_all_writes_with_one_broker_down_not_two(
    cluster_infrastructure: TestInfrastructure,
) -> None:
    cluster = cluster_infrastructure
    bootstrap = cluster.kafka_bootstrap
    assert cluster.kafka_node_ids == [1, 2, 3]
    assert len(bootstrap.split(",")) == 3
    assert cluster.topic_settings() == {
        "topic_replication_factor": 3,
        "topic_min_insync_replicas": 2,
    }
    topic = f"cluster-selftest.{uuid4().hex[:12]}"
    settings = cluster.topic_settings()
    await ensure_topics(
        bootstrap,
        [topic],
        1,
        replication_factor=settings["topic_replication_factor"],
        min_insync_replicas=settings["topic_min_insync_replicas"],
    )
    # The group coordinator's topic (made by the readiness check) is replicated too.
    internal = "__consumer_offsets"
    chosen = (topic, internal)
    assert await replication_of(bootstrap, chosen.__contains__, including=chosen) == {
        topic: (frozenset({3}), "2"),
        internal: (frozenset({3}), "2"),
    }

    await _write(bootstrap, topic, b"all three up", WRITE_WITHIN)
    await cluster.kill_kafka_node(1)
    await _write(bootstrap, topic, b"one broker down", WRITE_WITHIN)

    await cluster.kill_kafka_node(2)
    with pytest.raises((TimeoutError, KafkaError)):
        await _write(bootstrap, topic, b"two brokers down", REFUSED_FOR)

    await cluster.start_kafka_node(2)
    await _write(bootstrap, topic, b"one back", WRITE_WITHIN)
    acknowledged = [b"all three up", b"one broker down", b"one back"]
    assert [v for v in await _read_all(bootstrap, topic) if v in acknowledged] == acknowledged
