"""How the outbox relay hands messages to the producer: partitions and order, without I/O."""

import asyncio
from typing import Any, NamedTuple, cast

from aiokafka.errors import MessageSizeTooLargeError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.kafka.outbox import OutboxRelay


class RecordingBatch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.messages: list[tuple[bytes, bytes]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: None, headers: Any) -> object | None:
        if len(self.messages) == self.capacity:
            return None
        self.messages.append((key, value))
        return object()


class RecordingProducer:
    """The part of ``AIOKafkaProducer`` the relay uses; keeps what it was sent, in order."""

    def __init__(self, partitions: int, batch_capacity: int) -> None:
        self.partitions = partitions
        self.batch_capacity = batch_capacity
        self.sent: list[tuple[str, int, RecordingBatch]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def create_batch(self) -> RecordingBatch:
        return RecordingBatch(self.batch_capacity)

    async def send_batch(
        self, batch: RecordingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        self.sent.append((topic, partition, batch))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


def relay_with(producer: RecordingProducer) -> OutboxRelay:
    return OutboxRelay(async_sessionmaker(class_=AsyncSession), producer)


async def test_keys_land_on_the_partitions_the_java_client_picks() -> None:
    producer = RecordingProducer(partitions=1000, batch_capacity=100)
    keys = [b"", b"a", b"ab", b"abc", b"123456789", b"\x00 "]
    await relay_with(producer).publish([("t", key, b"v") for key in keys])
    partition_of = {batch.messages[0][0]: partition for _, partition, batch in producer.sent}
    # Java's Utils.toPositive(Utils.murmur2(key)) % 1000 for each key.
    assert [partition_of[key] for key in keys] == [681, 524, 434, 107, 566, 742]


async def test_each_partition_gets_its_messages_in_outbox_order_in_full_batches() -> None:
    producer = RecordingProducer(partitions=6, batch_capacity=4)
    messages = [
        (topic, f"loan-{n % 5}".encode(), f"{n}".encode())
        for n in range(60)
        for topic in ("a", "b")
    ]
    await relay_with(producer).publish(messages)

    on_wire: dict[tuple[str, int], list[tuple[bytes, bytes]]] = {}
    for topic, partition, batch in producer.sent:
        assert 1 <= len(batch.messages) <= 4
        on_wire.setdefault((topic, partition), []).extend(batch.messages)
    for (topic, _), sent in on_wire.items():
        keys = {key for key, _ in sent}
        assert sent == [(k, v) for t, k, v in messages if t == topic and k in keys]
    assert sum(len(sent) for sent in on_wire.values()) == len(messages)
    keys_per_partition = [{key for key, _ in sent} for sent in on_wire.values()]
    assert sum(len(keys) for keys in keys_per_partition) == 2 * 5, "a key on two partitions"


class _Row(NamedTuple):
    id: int
    topic: str
    message_key: str
    payload: bytes
    traceparent: str | None = None
    tracestate: str | None = None


class RefusingProducer(RecordingProducer):
    """Refuses (for good) every batch holding a value longer than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(partitions=1, batch_capacity=100)
        self.limit = limit

    async def send_batch(
        self, batch: RecordingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[None]:
        if all(len(value) <= self.limit for _, value in batch.messages):
            return await super().send_batch(batch, topic, partition=partition)
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refused.set_exception(MessageSizeTooLargeError())
        return refused


async def test_a_refused_row_is_parked_and_the_rest_of_its_key_held_back() -> None:
    producer = RefusingProducer(limit=10)
    rows = [
        _Row(1, "t", "loan-a", b"a1"),
        _Row(2, "t", "loan-b", b"b1"),
        _Row(3, "t", "loan-a", b"a2-too-large"),
        _Row(4, "t", "loan-b", b"b2"),
        _Row(5, "t", "loan-a", b"a3"),
        _Row(6, "u", "loan-a", b"a1-other-t"),
    ]
    relay = relay_with(producer)

    published, parked, error = await relay._publish_rows(cast("list[Row[Any]]", rows))

    assert error is None
    assert published == [1, 2, 4, 6]  # 5 waits behind 3 (same topic and key)
    assert [row_id for row_id, _ in parked] == [3]
    assert parked[0][1].startswith("MessageSizeTooLargeError")
    sent = [(topic, value) for topic, _, batch in producer.sent for _, value in batch.messages]
    assert [value for topic, value in sent if topic == "t"] == [b"a1", b"b1", b"b2"]
    # Topic u's batch went through in the first, refused, attempt and goes again row by row:
    # a copy, which consumers' inboxes make a no-op.
    assert [value for topic, value in sent if topic == "u"] == [b"a1-other-t"] * 2
