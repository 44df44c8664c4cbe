"""A consumer group's dead letters: read them, replay them (the operator's command is
``collections dead-letters list|show|replay``, in ``deploy/cli/dead_letters.py``).

The dead letters of a group are read from its dead-letter topic (see
:func:`shared.events.topics.dead_letter_topic`), which is never changed.

:func:`replay` (after the fix is deployed) republishes each chosen dead letter's original value and
key onto the source topic, with its original headers and ``dlq.replayed-from:
<dead-letter topic>/<partition>/<offset>`` instead of the ``dlq.*`` ones; an event dead-lettered
more than once is replayed once (its latest copy). The consumer retries a replayed event its
inbox holds as rejected, and treats one it already applied as a no-op: replaying twice applies
once. Without ``--event-id`` every dead letter is replayed.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from shared.events.envelope import Envelope
from shared.events.topics import dead_letter_topic
from shared.kafka.connection import KafkaTarget, client_options
from shared.kafka.consumer import REPLAYED_FROM_HEADER
from shared.kafka.producer import create_producer

ASSIGNMENT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, with what its headers and value say."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    event_id: UUID | None
    event_type: str | None

    @property
    def address(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def header(self, name: str) -> str:
        return next((value.decode(errors="replace") for n, value in self.headers if n == name), "")

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers, without the dead-letter ones, and where the replay came from."""
        kept = [(name, value) for name, value in self.headers if not name.startswith("dlq.")]
        return [*kept, (REPLAYED_FROM_HEADER, self.address.encode())]


async def read_dead_letters(kafka: KafkaTarget, topic: str, group: str) -> list[DeadLetter]:
    """Every record the dead-letter topic of ``group`` on ``topic`` holds now, in order per
    partition."""
    name = dead_letter_topic(topic, group)
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        if name not in await consumer.topics():
            raise LookupError(f"no dead-letter topic {name}")
        consumer.subscribe([name])  # without a group: every partition, once metadata is in
        for _ in range(int(ASSIGNMENT_WAIT_SECONDS / 0.05)):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError(f"no partitions of {name} within {ASSIGNMENT_WAIT_SECONDS} s")
        assignment = sorted(consumer.assignment())
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assignment)
        next_offsets: dict[TopicPartition, int] = await consumer.beginning_offsets(assignment)
        await consumer.seek_to_beginning(*assignment)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(ASSIGNMENT_WAIT_SECONDS + sum(ends.values()) / 1000):
            while any(next_offsets[tp] < end for tp, end in ends.items()):
                batches = await consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    letters.extend(_letter(r) for r in records if r.offset < ends[tp])
                    if records:
                        next_offsets[tp] = records[-1].offset + 1
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        await consumer.stop()


def _letter(record: "ConsumerRecord[bytes, bytes]") -> DeadLetter:
    event_id: UUID | None = None
    event_type: str | None = None
    try:
        envelope = Envelope.model_validate_json(record.value or b"")
    except ValidationError:
        pass
    else:
        event_id, event_type = envelope.id, envelope.type
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        event_id=event_id,
        event_type=event_type,
    )


def latest_per_event(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per event (its latest copy); letters without an event id all stay."""
    latest: dict[object, DeadLetter] = {}
    for letter in letters:
        latest[letter.event_id if letter.event_id is not None else letter.address] = letter
    return sorted(latest.values(), key=lambda letter: (letter.partition, letter.offset))


async def replay(
    kafka: KafkaTarget,
    topic: str,
    group: str,
    event_ids: Sequence[UUID] = (),
    progress: Callable[[int, int], None] | None = None,
) -> list[DeadLetter]:
    """Republish dead letters (those of ``event_ids``, or all) onto ``topic``; returns them.
    ``progress(done, total)`` is called once before the first and after each delivery."""
    chosen = latest_per_event(await read_dead_letters(kafka, topic, group))
    if event_ids:
        missing = set(event_ids) - {letter.event_id for letter in chosen}
        if missing:
            raise LookupError(f"no dead letter for {sorted(map(str, missing))}")
        chosen = [letter for letter in chosen if letter.event_id in set(event_ids)]
    producer = create_producer(kafka, client_id=f"{group}-dlq-replay")
    await producer.start()
    try:
        deliveries = [
            await producer.send(
                topic, value=letter.value, key=letter.key, headers=letter.replay_headers()
            )
            for letter in chosen
        ]
        if progress is not None:
            progress(0, len(chosen))
        for done, delivery in enumerate(deliveries, start=1):
            await delivery
            if progress is not None:
                progress(done, len(chosen))
    finally:
        await producer.stop()
    return chosen
