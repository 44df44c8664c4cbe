"""The consumer runner every service uses.

What it promises (an "ack after" policy): a batch from ``getmany`` is applied in one database
transaction, together with inbox rows keyed by event id that make redeliveries no-ops; offsets
are committed, explicitly and once per batch, only after that transaction committed. Poison
messages go to the group's dead-letter topic with the reason; transient faults (database or
broker away) rewind to the batch start and retry with backoff, never skip.

Each event goes to the handler registered for its type (see :mod:`shared.kafka.handlers`). An
event of a type with no handler is skipped on purpose: counted per type in ``skipped_by_type``,
not claimed in the inbox (nothing was applied, and a redelivery skips it again without touching
the database), and its offset is committed with the batch. An event whose data does not fit its
type's model, or whose schema version is not understood, is a poison message.

A dead-lettered event is recorded in the inbox as rejected (``rejected_at``) once its dead
letter is delivered, so a redelivery neither applies it nor dead-letters it again. A message
replayed from the dead-letter topic (header ``dlq.replayed-from``, see
:mod:`shared.kafka.dead_letters`) clears that mark and is tried again; an applied event stays a
no-op however often it is replayed.

Each applied batch is one ``process batch <group>`` span linked to its events' traces; each
event is a ``process <topic>`` span of its own trace (see :mod:`shared.kafka.handlers`).
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaTimeoutError
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.bulk import insert_new_rows, insert_rows
from shared.db.engine import SessionFactory
from shared.db.kit_tables import inbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.topics import dead_letter_topic
from shared.kafka.connection import KafkaTarget, client_options
from shared.kafka.faults import (
    describe_failure,
    describe_validation,
    is_transient,
    sqlstate_of,
)
from shared.kafka.handlers import EventHandlers, PoisonMessageError, Received
from shared.observability import metrics
from shared.observability.tracing import batch_span, parent_of, tracer

log = structlog.get_logger(__name__)
TOPIC_WAIT_SECONDS = 30.0


REPLAYED_FROM_HEADER = "dlq.replayed-from"


@dataclass(frozen=True)
class _Rejected:
    record: ConsumerRecord[bytes, bytes]
    reason: str
    event_id: UUID | None = None
    sqlstate: str | None = None
    event_type: str = "unknown"


def is_replayed(record: ConsumerRecord[bytes, bytes]) -> bool:
    """True for a message an operator replayed from a dead-letter topic."""
    return any(name == REPLAYED_FROM_HEADER for name, _ in record.headers or ())


class ConsumerRunner:
    """Runs one consumer group over some topics and applies batches through its handlers."""

    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        kafka: KafkaTarget,
        sessions: SessionFactory,
        units: Callable[[], UnitOfWork],
        handlers: EventHandlers[Any],
        dead_letters: AIOKafkaProducer,
        max_batch: int = 500,
        poll_timeout_ms: int = 500,
        max_backoff: float = 5.0,
    ) -> None:
        self.group_id = group_id
        self.topics = list(topics)
        self._sessions = sessions
        self._units = units
        self._handlers = handlers
        self._dead_letters = dead_letters
        self._max_batch = max_batch
        self._poll_timeout_ms = poll_timeout_ms
        self._max_backoff = max_backoff
        self._idle = asyncio.Event()
        self._idle.set()
        self.joined = False
        self.last_poll_monotonic = 0.0
        self.applied_total = 0
        self.dead_lettered_total = 0
        self.skipped_by_type: Counter[str] = Counter()
        self._kafka = kafka
        self._consumer: AIOKafkaConsumer | None = None
        self._positions: dict[TopicPartition, int] = {}  # next offset of each partition read

    async def start(self) -> None:
        """Join the group with a fresh client (a stopped aiokafka consumer cannot restart)."""
        self.joined = False
        self._consumer = AIOKafkaConsumer(
            **client_options(self._kafka),
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
        )
        await self._consumer.start()
        await self._wait_for_topics(self._consumer)
        self._consumer.subscribe(self.topics, listener=_DrainBeforeRevoke(self))

    async def _wait_for_topics(
        self, consumer: AIOKafkaConsumer, within: float = TOPIC_WAIT_SECONDS
    ) -> None:
        """Subscribe only once the broker's metadata has every topic: a group that joins while
        a topic just made is not in it yet gets no partition of it until the next metadata
        refresh, minutes later."""
        deadline = time.monotonic() + within
        while True:
            missing = set(self.topics) - set(await consumer.topics())
            if not missing:
                return
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"{self.group_id}: topics {sorted(missing)} not found")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """Close the client; a second call meanwhile (the run loop ending because of the first)
        finds nothing left to close.

        aiokafka's ``stop`` awaits fetches it has just cancelled and lets their
        ``CancelledError`` out (its issue 647), which happens when the broker is away. Taken
        for a cancellation of this task, it would end the supervised loop for good; so unless
        this task is being cancelled, the client is closed and the runner can start again."""
        consumer, self._consumer = self._consumer, None
        self.joined = False
        if consumer is None:
            return
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.warning("consumer stopped with a fetch cancelled under it", group=self.group_id)
            await consumer._client.close()  # what aiokafka's stop did not reach

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError(f"{self.group_id} is not started")
        return self._consumer

    def is_healthy(self, stall_seconds: float = 30.0) -> bool:
        """Joined its group and still polling (a consumer stuck after a broker restart is not)."""
        return self.joined and time.monotonic() - self.last_poll_monotonic < stall_seconds

    async def run(self) -> None:
        backoff = 0.1
        while True:
            self.last_poll_monotonic = time.monotonic()
            batches = await self.consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._max_batch
            )
            records = [record for partition in batches.values() for record in partition]
            self._observe_lag(batches)
            if not records:
                continue
            self._idle.clear()
            try:
                await self._process(records)
                await self._commit(batches)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning(
                    "transient fault, rewinding batch",
                    group=self.group_id,
                    error=describe_failure(error),
                )
                self._rewind(batches)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                self._idle.set()

    async def _process(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        events: list[Received] = []
        rejected: list[_Rejected] = []
        skipped: list[Envelope] = []
        for record in records:
            try:
                envelope = Envelope.model_validate_json(record.value or b"")
            except ValidationError as error:
                reason = f"not a valid event envelope: {describe_validation(error)}"
                rejected.append(_Rejected(record, reason))
                continue
            try:
                event = self._handlers.receive(envelope, record)
            except PoisonMessageError as error:
                reason = f"{type(error).__name__}: {error}"
                rejected.append(_Rejected(record, reason, envelope.id, event_type=envelope.type))
            else:
                if event is None:
                    skipped.append(envelope)
                else:
                    events.append(event)
        try:
            await self._apply(events)
        except Exception as error:
            if is_transient(error):
                raise
            rejected.extend(await self._apply_one_by_one(events))
        rejected = await self._not_seen_before(rejected)
        rejected.sort(
            key=lambda item: (item.record.topic, item.record.partition, item.record.offset)
        )
        await self._send_to_dead_letters(rejected)
        await self._record_rejected(rejected)
        for envelope in skipped:  # counted once the batch is through, not again on a rewind
            self.skipped_by_type[envelope.type] += 1
            log.debug("no handler", group=self.group_id, type=envelope.type, id=envelope.id)
        metrics.count_consumed(self.group_id, "skipped", (e.type for e in skipped))

    async def _apply(self, events: Sequence[Received]) -> None:
        if not events:
            return
        with batch_span(self.group_id, [event.parent for event in events]):
            async with self._units() as uow:
                fresh = await self._claim(uow.session, events)
                await self._handlers.dispatch(uow, fresh, self.group_id)
                await uow.commit()
        self.applied_total += len(events)
        applied = {event.envelope.id for event in fresh}
        types = [(event.envelope.id in applied, event.envelope.type) for event in events]
        metrics.count_consumed(self.group_id, "applied", (t for new, t in types if new))
        metrics.count_consumed(self.group_id, "duplicate", (t for new, t in types if not new))

    async def _apply_one_by_one(self, events: Sequence[Received]) -> list[_Rejected]:
        """Isolate the poison message(s) of a batch that failed as a whole."""
        rejected: list[_Rejected] = []
        for event in events:
            try:
                await self._apply([event])
            except Exception as error:
                if is_transient(error):
                    raise
                rejected.append(
                    _Rejected(
                        event.record,
                        describe_failure(error),
                        event.envelope.id,
                        sqlstate_of(error),
                        event.envelope.type,
                    )
                )
        return rejected

    async def _not_seen_before(self, rejected: list[_Rejected]) -> list[_Rejected]:
        """Leave out the rejects this group has in its inbox already (a redelivery of an event
        it dead-lettered or applied before), unless an operator replayed them."""
        known_ids = {item.event_id for item in rejected if item.event_id is not None}
        if not known_ids:
            return rejected
        async with self._sessions() as session:
            known = set(
                (
                    await session.execute(
                        select(inbox.c.event_id).where(
                            inbox.c.consumer_group == self.group_id,
                            inbox.c.event_id.in_(known_ids),
                        )
                    )
                ).scalars()
            )
        fresh: list[_Rejected] = []
        for item in rejected:
            if item.event_id in known and not is_replayed(item.record):
                log.info("redelivered reject", group=self.group_id, event_id=str(item.event_id))
            else:
                fresh.append(item)
        return fresh

    async def _record_rejected(self, rejected: Sequence[_Rejected]) -> None:
        """Mark the dead-lettered events (delivered by now) rejected in the inbox."""
        ids = list(dict.fromkeys(item.event_id for item in rejected if item.event_id is not None))
        if not ids:
            return
        now = datetime.now(UTC)
        rows = [
            {"consumer_group": self.group_id, "event_id": event_id, "rejected_at": now}
            for event_id in ids
        ]
        async with self._sessions() as session, session.begin():
            await insert_rows(session, inbox, rows, skip_conflicts=True)

    async def _claim(self, session: AsyncSession, events: Sequence[Received]) -> list[Received]:
        """Insert inbox rows; return the events not seen before, in order, without duplicates.

        A replayed event that is in the inbox as rejected is claimed too (its mark cleared).
        """
        unique: dict[UUID, Received] = {}
        for event in events:
            unique.setdefault(event.envelope.id, event)
        rows = [{"consumer_group": self.group_id, "event_id": key} for key in unique]
        claimed = set(await insert_new_rows(session, inbox, rows, returning="event_id"))
        replayed = [key for key, event in unique.items() if is_replayed(event.record)]
        if replayed:
            retried = await session.execute(
                update(inbox)
                .where(
                    inbox.c.consumer_group == self.group_id,
                    inbox.c.event_id.in_(replayed),
                    inbox.c.rejected_at.is_not(None),
                )
                .values(rejected_at=None, received_at=func.now())
                .returning(inbox.c.event_id)
            )
            claimed.update(retried.scalars())
        return [event for key, event in unique.items() if key in claimed]

    async def _send_to_dead_letters(self, rejected: Sequence[_Rejected]) -> None:
        deliveries = []
        for item in rejected:
            record = item.record
            with tracer.start_as_current_span(
                f"dead-letter {record.topic}", context=parent_of(record.headers)
            ):  # the line carries the trace id of the event's request
                log.error(
                    "dead-lettering message",
                    group=self.group_id,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=item.reason[:500],
                )
            headers = [
                *(record.headers or ()),
                ("dlq.reason", item.reason[:2000].encode()),
                ("dlq.source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                ("dlq.group", self.group_id.encode()),
            ]
            if item.sqlstate is not None:
                headers.append(("dlq.sqlstate", item.sqlstate.encode()))
            deliveries.append(
                await self._dead_letters.send(
                    dead_letter_topic(record.topic, self.group_id),
                    value=record.value,
                    key=record.key,
                    headers=headers,
                )
            )
        await asyncio.gather(*deliveries)
        self.dead_lettered_total += len(rejected)
        metrics.count_consumed(self.group_id, "dead_lettered", (r.event_type for r in rejected))
        metrics.count_dead_letters(self.group_id, (r.reason for r in rejected))

    async def _commit(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items() if records}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # The partitions moved to another member, which re-reads them; the inbox makes
            # what we already applied a no-op there.
            log.warning("offset commit lost to a rebalance", group=self.group_id, error=str(error))

    def _observe_lag(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Each assigned partition's lag, from the end offsets the fetches brought (no request
        of its own): the last stable offset (read_committed), less the next offset to read."""
        for tp, records in batches.items():
            if records:
                self._positions[tp] = records[-1].offset + 1
        lags = {}
        for tp in self.consumer.assignment():
            end = self.consumer.last_stable_offset(tp)
            end = self.consumer.highwater(tp) if end is None else end
            position = self._positions.get(tp)
            if end is not None and position is not None:
                lags[tp] = max(0, end - position)
        metrics.observe_consumer_lag(self.group_id, lags)

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Partitions given away: their lag is another member's to report."""
        for tp in partitions:
            self._positions.pop(tp, None)
        metrics.forget_partitions(self.group_id, partitions)

    def _rewind(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for tp, records in batches.items():
            try:
                self.consumer.seek(tp, records[0].offset)
            except IllegalStateError:
                continue


class _DrainBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the batch in flight finish (and commit) before its partitions are given away.

    It only waits for an event the loop sets; it holds nothing ``getmany`` needs.
    """

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner._idle.wait()
        self._runner.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._runner.joined = True
        log.info("partitions assigned", group=self._runner.group_id, count=len(assigned))
