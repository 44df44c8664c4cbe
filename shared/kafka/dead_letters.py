"""Operator command for a consumer group's dead letters: list them, show one, replay them.

Usage::

    python -m shared.kafka.dead_letters [--bootstrap HOST:PORT] --topic SOURCE --group GROUP
        list | show EVENT_ID | replay [--event-id ID ...]

``--bootstrap`` defaults to ``$COLLECTIONS_KAFKA_BOOTSTRAP`` or ``127.0.0.1:9092``; TLS and SASL
come from the ``COLLECTIONS_KAFKA_*`` variables named as a service's settings (e.g.
``COLLECTIONS_KAFKA_SECURITY_PROTOCOL``, see :mod:`shared.kafka.settings`). ``--topic``
is the source topic; the dead letters are read from its group's dead-letter topic (see
:func:`shared.events.topics.dead_letter_topic`), which is never changed.

``replay`` (after the fix is deployed) republishes each chosen dead letter's original value and
key onto the source topic, with its original headers and ``dlq.replayed-from:
<dead-letter topic>/<partition>/<offset>`` instead of the ``dlq.*`` ones; an event dead-lettered
more than once is replayed once (its latest copy). The consumer retries a replayed event its
inbox holds as rejected, and treats one it already applied as a no-op: replaying twice applies
once. Without ``--event-id`` every dead letter is replayed.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.events.envelope import Envelope
from shared.events.topics import dead_letter_topic
from shared.kafka.connection import KafkaTarget, client_options
from shared.kafka.consumer import REPLAYED_FROM_HEADER
from shared.kafka.producer import create_producer
from shared.kafka.settings import KafkaSettings

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
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
    kafka: KafkaTarget, topic: str, group: str, event_ids: Sequence[UUID] = ()
) -> list[DeadLetter]:
    """Republish dead letters (those of ``event_ids``, or all) onto ``topic``; returns them."""
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
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return chosen


def _summary(letter: DeadLetter) -> str:
    event = str(letter.event_id) if letter.event_id is not None else "-"
    return "\t".join(
        [
            letter.address,
            event,
            letter.event_type or "-",
            letter.header("dlq.source"),
            letter.header("dlq.sqlstate") or "-",
            letter.header("dlq.reason").replace("\n", " ")[:200],
        ]
    )


def _details(letter: DeadLetter) -> str:
    value = (letter.value or b"").decode(errors="replace")
    return json.dumps(
        {
            "address": letter.address,
            "event_id": str(letter.event_id) if letter.event_id is not None else None,
            "type": letter.event_type,
            "key": (letter.key or b"").decode(errors="replace"),
            "headers": {name: raw.decode(errors="replace") for name, raw in letter.headers},
            "value": value,
        },
        indent=2,
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.kafka.dead_letters",
        description="List, show and replay a consumer group's dead letters.",
    )
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("COLLECTIONS_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP),
        help="Kafka bootstrap servers (default: $COLLECTIONS_KAFKA_BOOTSTRAP or %(default)s)",
    )
    parser.add_argument("--topic", required=True, help="the source topic")
    parser.add_argument("--group", required=True, help="the consumer group")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per dead letter")
    show = commands.add_parser("show", help="the headers and value of an event's dead letters")
    show.add_argument("event_id", type=UUID)
    again = commands.add_parser("replay", help="republish dead letters onto the source topic")
    again.add_argument(
        "--event-id", type=UUID, action="extend", nargs="+", default=[], dest="event_ids"
    )
    return parser


class CommandSettings(KafkaSettings):
    """The command's Kafka security settings, from ``COLLECTIONS_KAFKA_*``."""

    model_config = SettingsConfigDict(env_prefix="COLLECTIONS_", extra="ignore")


async def main(argv: Sequence[str]) -> int:
    """Run the command; returns the exit status."""
    args = parser().parse_args(argv)
    kafka = replace(CommandSettings().kafka_connection(), bootstrap_servers=args.bootstrap)
    try:
        if args.command == "replay":
            replayed = await replay(kafka, args.topic, args.group, args.event_ids)
            for letter in replayed:
                print(f"replayed {_summary(letter)}")
            print(f"{len(replayed)} replayed onto {args.topic}")
            return 0
        letters = await read_dead_letters(kafka, args.topic, args.group)
        if args.command == "list":
            for letter in letters:
                print(_summary(letter))
            return 0
        matching = [letter for letter in letters if letter.event_id == args.event_id]
        if not matching:
            raise LookupError(f"no dead letter for {args.event_id}")
        for letter in matching:
            print(_details(letter))
        return 0
    except LookupError as error:
        print(error.args[0], file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
