"""The consumer runner and outbox relay keep their promises under faults, on real servers.

Every test has its own topics and consumer group; the module has its own database with the kit
tables and an ``effects`` table that has no unique constraint on the event id, so an event
applied twice would show up as two rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeAlias
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import SessionFactory, create_engine, create_session_factory
from shared.db.kit_tables import KIT_METADATA, inbox, outbox
from shared.db.unit_of_work import UnitOfWork, enqueue
from shared.events.catalog import EventType
from shared.events.envelope import Envelope
from shared.events.topics import Topic, dead_letter_topic
from shared.kafka.admin import ensure_topics
from shared.kafka.consumer import ConsumerRunner
from shared.kafka.handlers import EventHandlers, Handler, Received
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import create_producer
from tests.faults import tcp_proxy
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.consumer_process import (
    EFFECT,
    POISON,
    TEST_METADATA,
    Step,
    effect_handlers,
    effects,
    effects_handler,
    refuse,
)
from tests.support.operator_cli import Completed, collections

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass
class Kit:
    bootstrap: str
    database_url: str
    engine: AsyncEngine
    sessions: SessionFactory
    producer: AIOKafkaProducer


@pytest.fixture(scope="module")
async def kit(infrastructure: TestInfrastructure) -> AsyncIterator[Kit]:
    """A database of this module's own with the kit tables and ``effects``; a producer."""
    database = f"consumer_runner_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    engine = create_engine(url, pool_size=4)
    async with engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
        await connection.run_sync(TEST_METADATA.create_all)
    producer = create_producer(infrastructure.kafka_bootstrap, client_id="consumer-runner-tests")
    await producer.start()
    try:
        yield Kit(
            infrastructure.kafka_bootstrap, url, engine, create_session_factory(engine), producer
        )
    finally:
        await producer.stop()
        await engine.dispose()


# Building blocks.


def new_names(prefix: str) -> tuple[str, str]:
    run = uuid4().hex[:10]
    return f"crt.{prefix}.{run}", f"crt-{prefix}-{run}"


async def create_topics(kit: Kit, topic: str, group: str, partitions: int) -> None:
    await ensure_topics(kit.bootstrap, [topic, dead_letter_topic(topic, group)], partitions)


def envelope(
    key: str, seq: object, type_name: str = EFFECT.name, schema_version: int = 1
) -> Envelope:
    return Envelope(
        id=uuid4(),
        source="/tests/consumer-runner",
        type=type_name,
        time=datetime.now(UTC),
        subject=key,
        schemaversion=schema_version,
        tenantid="lender-test",
        data={"seq": seq},
    )


async def publish(kit: Kit, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
    """Send in bounded chunks (thousands of pending futures wake up quadratically)."""
    for start in range(0, len(messages), 500):
        deliveries = [
            await kit.producer.send(topic, value=value, key=key)
            for key, value in messages[start : start + 500]
        ]
        await asyncio.gather(*deliveries)


async def publish_envelopes(kit: Kit, topic: str, envelopes: Sequence[Envelope]) -> None:
    await publish(kit, topic, [(e.subject.encode(), e.to_bytes()) for e in envelopes])


def new_runner(
    kit: Kit,
    group: str,
    topic: str,
    handlers: EventHandlers,
    *,
    sessions: SessionFactory | None = None,
    max_batch: int = 500,
    max_backoff: float = 5.0,
) -> ConsumerRunner:
    return ConsumerRunner(
        group_id=group,
        topics=[topic],
        kafka=kit.bootstrap,
        sessions=sessions or kit.sessions,
        units=lambda: UnitOfWork(sessions or kit.sessions),
        handlers=handlers,
        dead_letters=kit.producer,
        max_batch=max_batch,
        poll_timeout_ms=200,
        max_backoff=max_backoff,
    )


@contextlib.asynccontextmanager
async def running(runner: ConsumerRunner) -> AsyncIterator[asyncio.Task[None]]:
    """The runner's ``run()`` as a task, once it has its partitions; stopped on the way out."""
    await runner.start()
    task = asyncio.create_task(runner.run(), name=runner.group_id)
    try:
        await eventually(lambda: _joined_or_dead(runner, task), within=30)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await runner.stop()


async def _joined_or_dead(runner: ConsumerRunner, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises what killed it
        raise AssertionError("the runner returned")
    return runner.joined


async def run_until_committed(
    kit: Kit, runner: ConsumerRunner, group: str, offsets: dict[TopicPartition, int]
) -> None:
    """Run ``runner`` until its group has committed ``offsets``, alive all along."""
    async with running(runner) as task:

        async def committed() -> bool:
            return await committed_offsets(kit, group) == offsets

        await eventually(committed, within=20)
        assert_alive(task)


def assert_alive(task: asyncio.Task[None]) -> None:
    if task.done():
        error = None if task.cancelled() else task.exception()
        raise AssertionError(f"the runner task ended: {error!r}")


async def effect_counts(kit: Kit, group: str) -> Counter[UUID]:
    """How many times each event was applied by ``group``."""
    async with kit.engine.connect() as connection:
        rows = await connection.execute(
            select(effects.c.event_id).where(effects.c.consumer_group == group)
        )
        return Counter(row.event_id for row in rows)


async def claimed_events(kit: Kit, group: str) -> set[UUID]:
    """The events ``group`` applied (its inbox rows not marked rejected)."""
    async with kit.engine.connect() as connection:
        rows = await connection.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer_group == group, inbox.c.rejected_at.is_(None)
            )
        )
        return set(rows.scalars())


async def rejected_events(kit: Kit, group: str) -> set[UUID]:
    """The events ``group`` dead-lettered and recorded as rejected in its inbox."""
    async with kit.engine.connect() as connection:
        rows = await connection.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer_group == group, inbox.c.rejected_at.is_not(None)
            )
        )
        return set(rows.scalars())


async def committed_offsets(kit: Kit, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kit.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


@contextlib.asynccontextmanager
async def topic_reader(kit: Kit, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A group-less consumer of every partition of ``topic``, from the start."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kit.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        await eventually(lambda: _true(bool(consumer.assignment())), within=10)
        yield consumer
    finally:
        await consumer.stop()


async def end_offsets(kit: Kit, topic: str) -> dict[TopicPartition, int]:
    async with topic_reader(kit, topic) as consumer:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(consumer.assignment()))
        return ends


async def read_topic(kit: Kit, topic: str, count: int, within: float = 20) -> list[Record]:
    """The first ``count`` records of ``topic``, in order per partition; fails if there are
    more."""
    records: list[Record] = []
    async with topic_reader(kit, topic) as consumer:

        async def all_there() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
            return len(records) >= count

        await eventually(all_there, within=within, interval=0)
    assert sum((await end_offsets(kit, topic)).values()) == count, "more records than expected"
    return records


async def _true(value: bool) -> bool:
    return value


# 1. Poison messages.


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_rest_applies_once(
    kit: Kit,
) -> None:
    topic, group = new_names("poison")
    await create_topics(kit, topic, group, partitions=1)
    good_1, good_2 = envelope("loan-1", 1), envelope("loan-1", 4)
    poisoned = envelope("loan-1", 3, type_name=POISON.name)
    not_json = b"{this is not json"
    await publish(
        kit,
        topic,
        [
            (b"loan-1", good_1.to_bytes()),
            (b"loan-1", not_json),
            (b"loan-1", poisoned.to_bytes()),
            (b"loan-1", good_2.to_bytes()),
        ],
    )
    tp = TopicPartition(topic, 0)
    runner = new_runner(kit, group, topic, effect_handlers(group))

    async with running(runner) as task:

        async def past_all_four() -> bool:
            return (await committed_offsets(kit, group)).get(tp) == 4

        await eventually(past_all_four, within=20)
        assert_alive(task)

    assert await effect_counts(kit, group) == {good_1.id: 1, good_2.id: 1}
    assert runner.dead_lettered_total == 2

    dead = await read_topic(kit, dead_letter_topic(topic, group), count=2)
    by_offset = {record.offset: (record.key, record.value, dict(record.headers)) for record in dead}
    assert sorted(by_offset) == [0, 1]
    # Same partition, same key: the rejects keep their order in the dead-letter topic.
    (key_a, value_a, headers_a), (key_b, value_b, headers_b) = by_offset[0], by_offset[1]
    assert (key_a, value_a) == (b"loan-1", not_json)
    assert b"not a valid event envelope" in headers_a["dlq.reason"]
    assert headers_a["dlq.source"] == f"{topic}/0/1".encode()
    assert (key_b, value_b) == (b"loan-1", poisoned.to_bytes())
    assert headers_b["dlq.reason"].startswith(b"ValueError: cannot apply event")
    assert str(poisoned.id).encode() in headers_b["dlq.reason"]
    assert headers_b["dlq.source"] == f"{topic}/0/2".encode()
    assert headers_b["dlq.group"] == group.encode()

    claimed = await claimed_events(kit, group)
    assert claimed == {good_1.id, good_2.id}, "a rejected event must not be marked as processed"


# 2. Redelivery.


async def _rewind_group(kit: Kit, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for an empty group: as if its last commits had never happened."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kit.bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_a_redelivered_event_is_a_no_op(kit: Kit) -> None:
    topic, group = new_names("redelivery")
    await create_topics(kit, topic, group, partitions=1)
    tp = TopicPartition(topic, 0)
    event = envelope("loan-2", 1)
    await publish_envelopes(kit, topic, [event, event])  # a producer retry, say

    first = new_runner(kit, group, topic, effect_handlers(group))
    async with running(first) as task:
        await eventually(lambda: _true(first.applied_total == 2))
        assert_alive(task)
    assert await effect_counts(kit, group) == {event.id: 1}

    # The first runner's offset commits are lost: the group starts over from offset 0.
    await _rewind_group(kit, group, {tp: 0})
    assert await committed_offsets(kit, group) == {tp: 0}

    second = new_runner(kit, group, topic, effect_handlers(group))
    async with running(second) as task:
        await eventually(lambda: _true(second.applied_total == 2))

        async def committed_again() -> bool:
            return await committed_offsets(kit, group) == {tp: 2}

        await eventually(committed_again)
        assert_alive(task)
    assert await effect_counts(kit, group) == {event.id: 1}
    assert first.dead_lettered_total == second.dead_lettered_total == 0


async def test_a_database_error_is_dead_lettered_with_its_sqlstate_and_no_parameters(
    kit: Kit,
) -> None:
    topic, group = new_names("sqlstate")
    await create_topics(kit, topic, group, partitions=1)
    secret = "borrower-7@example.com"

    async def divide_by_zero(uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        session = uow.session
        await session.execute(
            text("SELECT CAST(:contact AS text), 1 / :zero"), {"contact": secret, "zero": 0}
        )

    handlers = EventHandlers()
    handlers.on(EFFECT, divide_by_zero)
    event = envelope("loan-10", 1)
    await publish_envelopes(kit, topic, [event])
    runner = new_runner(kit, group, topic, handlers)
    async with running(runner) as task:

        async def past_it() -> bool:
            return await committed_offsets(kit, group) == {TopicPartition(topic, 0): 1}

        await eventually(past_it, within=20)
        assert_alive(task)

    [dead] = await read_topic(kit, dead_letter_topic(topic, group), count=1)
    headers = dict(dead.headers)
    assert headers["dlq.sqlstate"] == b"22012"
    assert headers["dlq.reason"] == b"DBAPIError: DivisionByZeroError: division by zero"
    assert secret.encode() not in headers["dlq.reason"]
    assert b"parameters" not in headers["dlq.reason"]


async def test_a_redelivered_rejected_event_is_not_dead_lettered_again(kit: Kit) -> None:
    topic, group = new_names("redelivered-poison")
    await create_topics(kit, topic, group, partitions=1)
    tp = TopicPartition(topic, 0)
    good = envelope("loan-9", 1)
    poisoned = envelope("loan-9", 2, type_name=POISON.name)  # its handler raises
    newer_schema = envelope("loan-9", 3, schema_version=2)  # refused before any handler
    await publish_envelopes(kit, topic, [good, poisoned, newer_schema])

    first = new_runner(kit, group, topic, effect_handlers(group))
    async with running(first) as task:

        async def past_all() -> bool:
            return await committed_offsets(kit, group) == {tp: 3}

        await eventually(past_all, within=20)
        assert_alive(task)
    assert first.dead_lettered_total == 2
    assert await rejected_events(kit, group) == {poisoned.id, newer_schema.id}

    await _rewind_group(kit, group, {tp: 0})
    second = new_runner(kit, group, topic, effect_handlers(group))
    async with running(second) as task:
        await eventually(past_all, within=20)
        assert_alive(task)

    assert second.dead_lettered_total == 0
    assert await effect_counts(kit, group) == {good.id: 1}
    dead = await read_topic(kit, dead_letter_topic(topic, group), count=2)
    assert [record.value for record in dead] == [poisoned.to_bytes(), newer_schema.to_bytes()]
    assert await claimed_events(kit, group) == {good.id}


async def test_a_dead_letter_replayed_after_the_fix_applies_once_however_often_replayed(
    kit: Kit,
) -> None:
    """``collections dead-letters list|show|replay``, as a process, on a real dead letter."""
    topic, group = new_names("replay")
    await create_topics(kit, topic, group, partitions=1)
    tp = TopicPartition(topic, 0)
    good, broken = envelope("loan-11", 1), envelope("loan-11", 2)
    await publish_envelopes(kit, topic, [good, broken])
    fixed = False
    inner = effects_handler(group)

    async def handler(uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        if not fixed and any(event.envelope.id == broken.id for event in events):
            raise ValueError(f"cannot apply event {broken.id} yet")
        await inner(uow, events)

    handlers = EventHandlers()
    handlers.on(EFFECT, handler)
    cli = ["--topic", topic, "--group", group]
    env = {"COLLECTIONS_KAFKA_BOOTSTRAP_SERVERS": kit.bootstrap}

    async def dead_letters(command: str, *args: str) -> Completed:
        return await collections("dead-letters", command, *cli, *args, env=env)

    runner = new_runner(kit, group, topic, handlers)
    async with running(runner) as task:

        async def committed(offset: int) -> bool:
            assert_alive(task)
            return await committed_offsets(kit, group) == {tp: offset}

        await eventually(lambda: committed(2), within=20)
        assert await effect_counts(kit, group) == {good.id: 1}
        assert await rejected_events(kit, group) == {broken.id}

        (listed,) = (await dead_letters("list", "--json")).json()
        assert listed["address"] == f"{dead_letter_topic(topic, group)}/0/0"
        assert listed["event_id"] == str(broken.id)
        assert f"cannot apply event {broken.id} yet" in listed["reason"]
        table = await dead_letters("list")  # for people: a table
        assert table.code == 0
        assert str(broken.id) in table.out
        assert f"{dead_letter_topic(topic, group)}/0/0" in table.out
        (shown,) = (await dead_letters("show", str(broken.id))).json()
        assert shown["address"] == f"{dead_letter_topic(topic, group)}/0/0"
        assert shown["headers"]["dlq.source"] == f"{topic}/0/1"
        assert (await dead_letters("show", str(uuid4()))).code == 1

        # Replayed before the fix: dead-lettered again, still rejected.
        replayed = await dead_letters("replay")
        assert replayed.code == 0, replayed.err
        assert "1 replayed onto" in replayed.out
        assert f"replaying onto {topic}" in replayed.err  # the progress bar
        await eventually(lambda: committed(3), within=20)
        assert runner.dead_lettered_total == 2
        assert await rejected_events(kit, group) == {broken.id}

        fixed = True  # the fix is deployed
        replayed = await dead_letters("replay", "--event-id", str(broken.id), "--json")
        assert [letter["event_id"] for letter in replayed.json()] == [str(broken.id)]
        await eventually(lambda: committed(4), within=20)
        assert await effect_counts(kit, group) == {good.id: 1, broken.id: 1}
        assert await claimed_events(kit, group) == {good.id, broken.id}
        assert await rejected_events(kit, group) == set()

        assert (await dead_letters("replay")).code == 0  # again, and every dead letter
        await eventually(lambda: committed(5), within=20)

    assert await effect_counts(kit, group) == {good.id: 1, broken.id: 1}
    assert runner.dead_lettered_total == 2
    dlq = dead_letter_topic(topic, group)
    assert [r.value for r in await read_topic(kit, dlq, count=2)] == [broken.to_bytes()] * 2
    replays = (await read_topic(kit, topic, count=5))[2:]
    # The latest dead letter of the event is replayed, once per replay.
    assert [dict(record.headers)["dlq.replayed-from"] for record in replays] == [
        f"{dlq}/0/0".encode(),
        f"{dlq}/0/1".encode(),
        f"{dlq}/0/1".encode(),
    ]
    for record in replays:
        assert record.value == broken.to_bytes()
        assert record.key == b"loan-11"  # the original key
        assert not any(
            name.startswith("dlq.") and name != "dlq.replayed-from" for name, _ in record.headers
        )


async def test_a_group_started_before_its_topic_exists_gets_its_partitions(kit: Kit) -> None:
    topic, group = new_names("late-topic")
    runner = new_runner(kit, group, topic, effect_handlers(group))
    starting = asyncio.create_task(runner.start())
    await asyncio.sleep(1)  # the runner asks the broker for a topic that is not there yet
    await create_topics(kit, topic, group, partitions=3)
    await starting
    task = asyncio.create_task(runner.run())
    try:
        events = [envelope(f"loan-{n}", n) for n in range(6)]
        await publish_envelopes(kit, topic, events)
        await eventually(lambda: _true(runner.applied_total == len(events)), within=30)
        assert_alive(task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.stop()
    assert await effect_counts(kit, group) == {e.id: 1 for e in events}


# 3. The database goes away while events are being consumed.


@pytest.mark.faults
async def test_a_database_outage_pauses_consumption_and_skips_nothing(kit: Kit) -> None:
    topic, group = new_names("db-outage")
    await create_topics(kit, topic, group, partitions=3)
    url = make_url(kit.database_url)
    wave_1 = [envelope(f"loan-{n % 7}", n) for n in range(300)]
    wave_2 = [envelope(f"loan-{n % 7}", n) for n in range(300, 600)]

    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = create_engine(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            pool_size=2,
        )
        runner = new_runner(
            kit,
            group,
            topic,
            effect_handlers(group, db_pause=0.03),  # keeps a transaction open most of the time
            sessions=create_session_factory(proxied),
            max_batch=20,
            max_backoff=1.0,
        )
        try:
            await publish_envelopes(kit, topic, wave_1)
            async with running(runner) as task:

                async def some_applied() -> bool:
                    return len(await effect_counts(kit, group)) >= 60

                await eventually(some_applied, within=20, interval=0.02)
                proxy.cut()
                applied_at_cut = len(await effect_counts(kit, group))
                assert applied_at_cut < len(wave_1), "cut too late: nothing left to consume"
                await publish_envelopes(kit, topic, wave_2)

                # Down until the runner has tried five times to reconnect (2.5 s of backoff);
                # it must neither die nor dead-letter anything meanwhile.
                async def retried_while_down() -> bool:
                    assert_alive(task)
                    assert runner.dead_lettered_total == 0, "the outage dead-lettered events"
                    return proxy.refused >= 5

                await eventually(retried_while_down, within=30)
                applied_while_down = len(await effect_counts(kit, group))
                assert applied_while_down <= applied_at_cut + 20  # at most the batch in COMMIT
                proxy.restore()

                async def all_applied() -> bool:
                    assert_alive(task)
                    assert runner.dead_lettered_total == 0, "the outage dead-lettered events"
                    return len(await effect_counts(kit, group)) == len(wave_1) + len(wave_2)

                await eventually(all_applied, within=30)
                ends = await end_offsets(kit, topic)

                async def all_committed() -> bool:
                    return await committed_offsets(kit, group) == ends

                await eventually(all_committed, within=20)
                assert_alive(task)
        finally:
            await proxied.dispose()

    counts = await effect_counts(kit, group)
    assert set(counts) == {e.id for e in wave_1 + wave_2}, "events were skipped"
    assert set(counts.values()) == {1}, "events were applied twice"
    assert runner.dead_lettered_total == 0, "an outage is not a poison message"
    assert proxy.severed >= 1, "the cut found no database connection to sever"


# 3b. The broker goes away while a poison message is being dead-lettered.


class _WatchedProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer that counts the sends that failed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.failed_sends = 0

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().send(*args, **kwargs)
        except Exception:
            self.failed_sends += 1
            raise


@pytest.mark.faults
async def test_a_broker_outage_while_dead_lettering_pauses_instead_of_crashing(
    kit: Kit, infrastructure: TestInfrastructure
) -> None:
    if not infrastructure.can_restart_kafka:
        pytest.skip(f"Kafka restarts need the local stack; this one is {infrastructure.kind}")
    topic, group = new_names("broker-away")
    await create_topics(kit, topic, group, partitions=1)
    tp = TopicPartition(topic, 0)
    good, poisoned = envelope("loan-3", 1), envelope("loan-3", 2, type_name=POISON.name)
    await publish_envelopes(kit, topic, [good, poisoned])

    # Fails a send after 2 s without a broker (the kit's producer waits 15 s).
    dead_letters = _WatchedProducer(
        bootstrap_servers=kit.bootstrap,
        client_id=f"{group}-dlq",
        enable_idempotence=True,
        request_timeout_ms=2000,
    )
    await dead_letters.start()
    inner = effects_handler(group)
    broker_stopped = broker_started = False

    async def handler(uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        nonlocal broker_stopped
        if not broker_stopped:  # the first batch is fetched: now the broker goes away
            broker_stopped = True
            await infrastructure.stop_kafka()
        await inner(uow, events)

    handlers = EventHandlers()
    handlers.on(EFFECT, handler)
    handlers.on(POISON, refuse)
    runner = ConsumerRunner(
        group_id=group,
        topics=[topic],
        kafka=kit.bootstrap,
        sessions=kit.sessions,
        units=lambda: UnitOfWork(kit.sessions),
        handlers=handlers,
        dead_letters=dead_letters,
        poll_timeout_ms=200,
    )
    try:
        async with running(runner) as task:

            async def dead_lettering_failed() -> bool:
                assert_alive(task)
                return dead_letters.failed_sends >= 1

            await eventually(dead_lettering_failed, within=30)
            await infrastructure.start_kafka()
            broker_started = True

            async def past_both() -> bool:
                assert_alive(task)
                return await committed_offsets(kit, group) == {tp: 2}

            await eventually(past_both, within=30)
    finally:
        if broker_stopped and not broker_started:
            await infrastructure.start_kafka()
        await dead_letters.stop()

    assert await effect_counts(kit, group) == {good.id: 1}
    dead = await read_topic(kit, dead_letter_topic(topic, group), count=1)
    assert [(r.key, r.value) for r in dead] == [(b"loan-3", poisoned.to_bytes())]


# 4. The consumer process is killed.


async def _start_consumer_process(
    kit: Kit, topic: str, group: str, log: IO[bytes], pause: float
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.consumer_process",
        "--bootstrap",
        kit.bootstrap,
        "--database-url",
        kit.database_url,
        "--topic",
        topic,
        "--group",
        group,
        "--max-batch",
        "100",
        "--pause-before-offset-commit",
        str(pause),
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE if pause else log,
        stderr=log,
    )


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


@pytest.mark.faults
async def test_a_killed_consumer_process_loses_nothing_and_applies_nothing_twice(
    kit: Kit, tmp_path: Path
) -> None:
    topic, group = new_names("sigkill")
    await create_topics(kit, topic, group, partitions=3)
    events = [envelope(f"loan-{n % 50}", n) for n in range(3000)]
    await publish_envelopes(kit, topic, events)

    with (tmp_path / "consumers.log").open("wb") as log:
        doomed = await _start_consumer_process(kit, topic, group, log, pause=0.25)
        try:
            assert doomed.stdout is not None
            applied_by_doomed = 0
            async with asyncio.timeout(45):
                # Kill it right after a batch reached the database, before its offsets did.
                while applied_by_doomed < 1000:
                    line = (await doomed.stdout.readline()).decode()
                    assert line, f"the consumer process exited early; see {log.name}"
                    if line.startswith("db-committed "):
                        applied_by_doomed = int(line.split()[1])
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
        finally:
            if doomed.returncode is None:
                doomed.kill()
                await doomed.wait()
        assert doomed.returncode == -signal.SIGKILL

        applied = await effect_counts(kit, group)
        committed = sum((await committed_offsets(kit, group)).values())
        assert 0 < len(applied) < len(events), "killed too early or too late"
        assert committed < len(applied), "no applied-but-uncommitted batch at the kill"

        successor = await _start_consumer_process(kit, topic, group, log, pause=0)
        try:

            async def all_applied() -> bool:
                assert successor.returncode is None, f"successor exited; see {log.name}"
                return len(await effect_counts(kit, group)) == len(events)

            # The killed member holds its partitions until its session times out (10 s).
            await eventually(all_applied, within=45, interval=0.2)
            ends = await end_offsets(kit, topic)

            async def all_committed() -> bool:
                return await committed_offsets(kit, group) == ends

            await eventually(all_committed, within=20)
        finally:
            await _stop_process(successor)

    counts = await effect_counts(kit, group)
    assert set(counts) == {e.id for e in events}
    assert set(counts.values()) == {1}, "events were applied twice"


# 5. The outbox relay.


async def test_two_outbox_relays_publish_every_row_once_in_order_per_key(kit: Kit) -> None:
    topic, _ = new_names("outbox")
    await ensure_topics(kit.bootstrap, [topic], 3)
    keys = [f"loan-{n}" for n in range(8)]
    per_key = 40
    relays: list[OutboxRelay] = []
    engines: list[AsyncEngine] = []
    producers: list[AIOKafkaProducer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for n in range(2):
            engine = create_engine(kit.database_url, pool_size=2)
            producer = create_producer(kit.bootstrap, client_id=f"relay-{n}")
            await producer.start()
            await producer.partitions_for(topic)  # metadata of the new topic, before the race
            engines.append(engine)
            producers.append(producer)
            # They poll rarely: the wake-ups below, as intake gives after each commit, pace them.
            relay = OutboxRelay(
                create_session_factory(engine), producer, batch_size=25, idle_interval=60
            )
            relays.append(relay)
            tasks.append(asyncio.create_task(relay.run(), name=f"relay-{n}"))

        # Enqueued while both relays run: 32 transactions of 10 events, keys interleaved. After
        # each commit both relays are woken (in turns first) and race for the advisory lock.
        enqueued: list[Envelope] = []
        outbox_ids: dict[UUID, int] = {}  # read as written: the relays delete what they send
        for wave, first in enumerate(range(0, per_key * len(keys), 10)):
            batch = [envelope(keys[n % len(keys)], n) for n in range(first, first + 10)]
            async with kit.sessions() as session, session.begin():
                await enqueue(session, topic, batch)
                written = select(outbox.c.event_id, outbox.c.id).where(
                    outbox.c.event_id.in_([e.id for e in batch])
                )
                outbox_ids.update((row.event_id, row.id) for row in await session.execute(written))
            enqueued += batch
            for relay in relays[wave % 2 :] + relays[: wave % 2]:
                relay.wake()

            async def wave_published(expected: int = len(enqueued)) -> bool:
                return sum(relay.published_total for relay in relays) >= expected

            await eventually(wave_published, within=15, interval=0.01)

        records = await read_topic(kit, topic, count=len(enqueued))

        async def all_deleted() -> bool:  # published rows go once Kafka has them
            async with kit.engine.connect() as connection:
                left = await connection.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.topic == topic)
                )
            return left == 0

        await eventually(all_deleted)
        for task in tasks:
            assert not task.done(), f"{task.get_name()} ended"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for producer in producers:
            await producer.stop()
        for engine in engines:
            await engine.dispose()

    on_wire = [Envelope.model_validate_json(record.value or b"") for record in records]
    assert Counter(e.id for e in on_wire) == Counter(e.id for e in enqueued), "not each once"
    split = [relay.published_total for relay in relays]
    assert sum(split) == len(enqueued), split
    assert all(split), f"both relays should have taken turns: {split}"

    # Per key (one partition each), the wire order is the outbox id order.
    wire_ids_per_key: dict[str, list[int]] = defaultdict(list)
    for record, event in zip(records, on_wire, strict=True):
        assert record.key == event.key.encode()
        wire_ids_per_key[event.subject].append(outbox_ids[event.id])
    assert set(wire_ids_per_key) == set(keys)
    for key, ids in wire_ids_per_key.items():
        assert ids == sorted(ids), f"{key} out of outbox order: {ids}"
        assert len(ids) == per_key


class _ProducerWithLostState:
    """A producer whose broker forgot its sequence numbers: every send fails for good."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def partitions_for(self, topic: str) -> set[int]:
        partitions: set[int] = await self._producer.partitions_for(topic)
        return partitions

    def create_batch(self) -> Any:
        return self._producer.create_batch()

    async def send_batch(self, *_args: object, **_kwargs: object) -> asyncio.Future[object]:
        raise OutOfOrderSequenceNumber()

    async def stop(self) -> None:
        await self._producer.stop()


@pytest.mark.faults
async def test_a_relay_whose_producer_lost_its_state_renews_it_and_publishes_once(
    kit: Kit,
) -> None:
    topic, _ = new_names("renew")
    await ensure_topics(kit.bootstrap, [topic], 2)
    events = [envelope(f"loan-{n % 3}", n) for n in range(30)]
    async with kit.sessions() as session, session.begin():
        await enqueue(session, topic, events)
    broken = create_producer(kit.bootstrap, client_id="relay-broken")
    await broken.start()
    renewed: list[AIOKafkaProducer] = []

    async def renew(old: AIOKafkaProducer) -> AIOKafkaProducer:
        await old.stop()
        renewed.append(create_producer(kit.bootstrap, client_id="relay-renewed"))
        await renewed[-1].start()
        return renewed[-1]

    relay = OutboxRelay(
        kit.sessions, _ProducerWithLostState(broken), max_backoff=0.1, renew_producer=renew
    )
    task = asyncio.create_task(relay.run())
    try:
        records = await read_topic(kit, topic, count=len(events))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for producer in renewed:
            await producer.stop()
    assert relay.producers_renewed == 1
    on_wire = Counter(Envelope.model_validate_json(r.value or b"").id for r in records)
    assert on_wire == Counter(e.id for e in events), "each event once"


@pytest.mark.faults
async def test_a_relay_parks_an_event_kafka_refuses_and_holds_the_rest_of_its_key(
    kit: Kit,
) -> None:
    topic, _ = new_names("park")
    admin = AIOKafkaAdminClient(bootstrap_servers=kit.bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "16384"})]
        )
    finally:
        await admin.close()
    before, after = envelope("loan-p", 1), envelope("loan-p", 3)
    too_large = envelope("loan-p", "x" * 40_000)
    other_key = envelope("loan-q", 4)
    async with kit.sessions() as session, session.begin():
        await enqueue(session, topic, [before, too_large, after, other_key])
    producers = [create_producer(kit.bootstrap, client_id="relay-park")]
    await producers[0].start()

    async def renew(old: AIOKafkaProducer) -> AIOKafkaProducer:
        producers.append(create_producer(kit.bootstrap, client_id="relay-park"))
        await producers[-1].start()
        return producers[-1]

    relay = OutboxRelay(
        kit.sessions, producers[0], max_backoff=0.2, idle_interval=0.05, renew_producer=renew
    )
    task = asyncio.create_task(relay.run())
    try:

        async def parked() -> bool:
            assert not task.done(), "the relay ended"
            return relay.parked_total == 1

        await eventually(parked, within=20)
        later = envelope("loan-q", 5)
        async with kit.sessions() as session, session.begin():
            await enqueue(session, topic, [later])
        records = await read_topic(kit, topic, count=3)

        async def deleted() -> bool:  # the relay deletes rows once Kafka has them: wait for it
            async with kit.engine.connect() as connection:
                left = await connection.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.topic == topic)
                )
            return left == 2  # the parked row and the one held behind it

        await eventually(deleted)
        assert not task.done(), "the relay ended"
        rows = await outbox_rows(kit, topic)
        assert rows[too_large.id].parked_at is not None
        assert rows[too_large.id].published_at is None
        assert "MessageSizeTooLargeError" in rows[too_large.id].park_reason
        # Held behind the parked event of its key: neither published nor parked.
        assert rows[after.id].published_at is None
        assert rows[after.id].parked_at is None
        assert set(rows) == {too_large.id, after.id}, "the published rows were not deleted"

        # An operator gives the parked row up: it is never sent, stays as the parked row's
        # history, and the row held behind it goes (and is deleted).
        async with kit.sessions() as session, session.begin():
            await session.execute(
                update(outbox)
                .where(outbox.c.event_id == too_large.id)
                .values(published_at=datetime.now(UTC))
            )
        relay.wake()
        records = await read_topic(kit, topic, count=4)

        async def only_the_given_up_left() -> bool:
            return set(await outbox_rows(kit, topic)) == {too_large.id}

        await eventually(only_the_given_up_left)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for producer in producers:
            await producer.stop()

    on_wire = [Envelope.model_validate_json(r.value or b"").id for r in records]
    assert on_wire == [before.id, other_key.id, later.id, after.id]
    assert relay.parked_total == 1
    given_up = (await outbox_rows(kit, topic))[too_large.id]
    assert given_up.parked_at is not None
    assert given_up.published_at is not None


async def outbox_rows(kit: Kit, topic: str) -> dict[UUID, Any]:
    """The outbox rows of ``topic`` left, by event id."""
    async with kit.engine.connect() as connection:
        return {
            row.event_id: row
            for row in await connection.execute(
                select(
                    outbox.c.event_id,
                    outbox.c.published_at,
                    outbox.c.parked_at,
                    outbox.c.park_reason,
                ).where(outbox.c.topic == topic)
            )
        }


# 6. Dispatch by event type.

REPORT = EventType(
    name="test.report", version=1, topic=Topic.LOANS, model=Step, summary="A test report."
)
PAYMENT = EventType(
    name="test.payment", version=1, topic=Topic.LOANS, model=Step, summary="A test payment."
)


async def test_each_run_of_one_type_reaches_its_handler_in_order_in_one_transaction(
    kit: Kit,
) -> None:
    topic, group = new_names("dispatch")
    await create_topics(kit, topic, group, partitions=1)
    sequence = [REPORT, REPORT, PAYMENT, REPORT]
    events = [envelope("loan-6", n, type_name=t.name) for n, t in enumerate(sequence, start=1)]
    await publish_envelopes(kit, topic, events)  # all there before the first poll: one batch
    calls: list[tuple[str, list[int], int]] = []

    def recorder(name: str) -> Handler[UnitOfWork, Step]:
        async def record(uow: UnitOfWork, run: Sequence[Received[Step]]) -> None:
            session = uow.session
            transaction = await session.scalar(text("SELECT txid_current()"))
            calls.append((name, [event.data.seq for event in run], transaction))

        return record

    handlers = EventHandlers()
    handlers.on(REPORT, recorder("report"))
    handlers.on(PAYMENT, recorder("payment"))
    runner = new_runner(kit, group, topic, handlers)
    await run_until_committed(kit, runner, group, {TopicPartition(topic, 0): 4})

    assert [(name, seqs) for name, seqs, _ in calls] == [
        ("report", [1, 2]),
        ("payment", [3]),
        ("report", [4]),
    ]
    assert len({transaction for _, _, transaction in calls}) == 1, "one transaction per batch"
    assert runner.applied_total == 4
    assert not runner.skipped_by_type


async def test_an_event_type_without_a_handler_is_skipped_and_counted(kit: Kit) -> None:
    topic, group = new_names("unhandled")
    await create_topics(kit, topic, group, partitions=1)
    first, second = envelope("loan-7", 1), envelope("loan-7", 3)
    others = [envelope("loan-7", n, type_name="test.unhandled") for n in (2, 4)]
    await publish_envelopes(kit, topic, [first, others[0], second, others[1]])
    runner = new_runner(kit, group, topic, effect_handlers(group))

    await run_until_committed(kit, runner, group, {TopicPartition(topic, 0): 4})

    assert await effect_counts(kit, group) == {first.id: 1, second.id: 1}
    assert runner.skipped_by_type == {"test.unhandled": 2}
    assert runner.dead_lettered_total == 0
    # Skipped events are not claimed: nothing was applied, a redelivery skips them again.
    assert await claimed_events(kit, group) == {first.id, second.id}


async def test_an_event_whose_data_does_not_fit_goes_to_the_dead_letter_topic(kit: Kit) -> None:
    topic, group = new_names("bad-data")
    await create_topics(kit, topic, group, partitions=1)
    first, last = envelope("loan-8", 1), envelope("loan-8", 4)
    not_a_number = envelope("loan-8", "two")
    newer_schema = envelope("loan-8", 3, schema_version=2)
    await publish_envelopes(kit, topic, [first, not_a_number, newer_schema, last])
    runner = new_runner(kit, group, topic, effect_handlers(group))

    await run_until_committed(kit, runner, group, {TopicPartition(topic, 0): 4})

    assert await effect_counts(kit, group) == {first.id: 1, last.id: 1}
    assert runner.dead_lettered_total == 2
    dead = await read_topic(kit, dead_letter_topic(topic, group), count=2)
    by_offset = {record.offset: (record.value, dict(record.headers)) for record in dead}
    (value_a, headers_a), (value_b, headers_b) = by_offset[0], by_offset[1]
    assert value_a == not_a_number.to_bytes()
    assert headers_a["dlq.reason"].startswith(
        f"PoisonMessageError: test.effect v1 event {not_a_number.id}: ".encode()
    )
    assert b"seq" in headers_a["dlq.reason"]
    assert b"two" not in headers_a["dlq.reason"], "the input value is not in the reason"
    assert headers_a["dlq.source"] == f"{topic}/0/1".encode()
    assert value_b == newer_schema.to_bytes()
    assert b"test.effect v2 is not understood here" in headers_b["dlq.reason"]
    assert headers_b["dlq.source"] == f"{topic}/0/2".encode()
    assert await claimed_events(kit, group) == {first.id, last.id}
