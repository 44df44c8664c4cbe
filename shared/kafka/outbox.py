"""Transactional outbox: write events with the state change, publish them afterwards.

The relay holds a PostgreSQL advisory lock while it publishes, so with several replicas exactly
one relays at a time and per-loan order (outbox id order) is kept on the wire. It deletes the
rows it published, in the transaction that read them, once Kafka has them all: the outbox
holds only what is still to publish (and parked rows). Killed between the send and the commit
of the delete, the rows are still there and go again: a duplicate the consumers' inboxes make
a no-op, never a loss.

An event Kafka refuses for good (too large for the topic, no authorization: a non-retriable
Kafka error) is parked (``parked_at``, ``park_reason``) instead of blocking the relay forever:
the batch that failed is published again one row at a time (rows of other partitions that
went through in the failed attempt go twice: consumers' inboxes make the copy a no-op), the
refused rows are parked and counted (``parked_total``), and the later rows of a parked row's
topic and key are held back (never published past it) until an operator deals with the parked
row: clearing ``parked_at`` (after e.g. raising the topic's ``max.message.bytes``) has it
published again, first of its key; setting ``published_at`` gives it up (the row stays, never
published, as the parked row's history, until the retention job deletes it).

Each record carries, besides ``content-type``, the W3C trace context stored with its row
(``traceparent``, ``tracestate``: the context of the work that published the event, see
:mod:`shared.observability.tracing`), so its consumers continue that trace.

A :class:`RelayHold` (tests only, from the ``fault_outbox_hold`` setting) stops each batch at a
point of its way so that a test can kill the process there: after the rows were committed but
before they are published, or after they are published but before they are deleted.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
)
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import BigInteger, Row, Select, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import SessionFactory
from shared.db.kit_tables import outbox
from shared.events.envelope import CONTENT_TYPE
from shared.kafka.faults import describe_failure, is_transient
from shared.observability.tracing import kafka_headers

RELAY_LOCK_ID = 0x0B7B0C5
HEADERS = [("content-type", CONTENT_TYPE.encode())]
Headers = list[tuple[str, bytes]]
Message = tuple[str, bytes, bytes] | tuple[str, bytes, bytes, Headers]
log = structlog.get_logger(__name__)

# The broker no longer knows the idempotent producer's sequence (e.g. it crashed and recovered
# its log without the producer's state): that producer can never send again, a new one can.
PRODUCER_STATE_LOST = (
    OutOfOrderSequenceNumber,
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


def _refused_for_good(error: BaseException) -> bool:
    """Kafka refused the message itself and will again (too large, not authorized)."""
    return (
        isinstance(error, KafkaError)
        and not is_transient(error)
        and not isinstance(error, PRODUCER_STATE_LOST)
    )


RenewProducer = Callable[[AIOKafkaProducer], Awaitable[AIOKafkaProducer]]
HoldPoint = Literal["before-publish", "after-publish"]


@dataclass(frozen=True)
class RelayHold:
    """Fault injection (tests only): each batch logs ``outbox fault hold`` and waits
    ``seconds`` at ``point``, inside the relay's transaction, so a test can kill it there."""

    point: HoldPoint
    seconds: float

    async def wait(self, point: HoldPoint, rows: int) -> None:
        log.warning("outbox fault hold", point=point, rows=rows, seconds=self.seconds)
        await asyncio.sleep(self.seconds)


class OutboxRelay:
    """Publishes outbox rows in id order, a batch at a time, then deletes them."""

    def __init__(
        self,
        sessions: SessionFactory,
        producer: AIOKafkaProducer,
        batch_size: int = 5000,
        idle_interval: float = 0.2,
        max_backoff: float = 5.0,
        renew_producer: RenewProducer | None = None,
        hold: RelayHold | None = None,
    ) -> None:
        self._sessions = sessions
        self._hold = hold
        self.held_batches = 0
        self._producer = producer
        self._renew_producer = renew_producer
        self.producers_renewed = 0
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._max_backoff = max_backoff
        self._wakeup = asyncio.Event()
        self._partitioner = DefaultPartitioner()
        self.published_total = 0
        self.parked_total = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        """Tell the relay there is new work now, instead of at its next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("outbox relay failed; retrying", error=self.last_error, backoff=backoff)
                if isinstance(error, PRODUCER_STATE_LOST) and self._renew_producer is not None:
                    await self._renew()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            self.last_error = None
            if published < self._batch_size:
                await self._idle()

    async def _renew(self) -> None:
        """A new producer (a new producer id) for the rows the old one could not publish; they
        are still in the outbox, so they go again, and consumers' inboxes make a copy a no-op."""
        assert self._renew_producer is not None
        self._producer = await self._renew_producer(self._producer)
        self.producers_renewed += 1
        log.warning("outbox relay renewed its producer", renewed=self.producers_renewed)

    async def _renew_after_refusal(self) -> None:
        """An idempotent producer whose batch the broker refused has a gap in its sequence
        numbers: its next send to that partition would fail, a new producer's does not."""
        if self._renew_producer is not None:
            await self._renew()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._idle_interval)
        self._wakeup.clear()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it published (0 if another replica relays)."""
        async with self._sessions() as session, session.begin():
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_ID))):
                return 0
            rows = (await session.execute(self._pending())).all()
            if not rows:
                return 0
            await self._held("before-publish", len(rows))
            ids, parked, deferred = await self._publish_rows(rows)
            await self._held("after-publish", len(ids))
            if ids:
                await self._published(session, ids)
            for row_id, reason in parked:
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id == row_id)
                    .values(parked_at=datetime.now(UTC), park_reason=reason)
                )
        self.published_total += len(ids)
        self.parked_total += len(parked)
        if deferred is not None:
            raise deferred
        return len(ids) + len(parked)

    async def _published(self, session: AsyncSession, ids: list[int]) -> None:
        """Kafka has the rows ``ids``: they go, in the relay's transaction."""
        await session.execute(
            delete(outbox).where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))),
            {"ids": ids},
        )

    async def _held(self, point: HoldPoint, rows: int) -> None:
        if self._hold is not None and self._hold.point == point:
            self.held_batches += 1
            await self._hold.wait(point, rows)

    def _pending(self) -> Select[Any]:
        """Rows to publish in id order, walking the primary key (every row the relay has not
        deleted is still to publish, parked, or given up: ``published_at`` set by an operator,
        or by a relay of an earlier version), none behind a parked row of its key
        (``ix_outbox_parked``)."""
        parked = outbox.alias("parked")
        held = (
            select(parked.c.id)
            .where(
                parked.c.parked_at.is_not(None),
                parked.c.published_at.is_(None),
                parked.c.topic == outbox.c.topic,
                parked.c.message_key == outbox.c.message_key,
                parked.c.id < outbox.c.id,
            )
            .exists()
        )
        return (
            select(
                outbox.c.id,
                outbox.c.topic,
                outbox.c.message_key,
                outbox.c.payload,
                outbox.c.traceparent,
                outbox.c.tracestate,
            )
            .where(outbox.c.parked_at.is_(None), outbox.c.published_at.is_(None), ~held)
            .order_by(outbox.c.id)
            .limit(self._batch_size)
        )

    async def _publish_rows(
        self, rows: Sequence[Row[Any]]
    ) -> tuple[list[int], list[tuple[int, str]], Exception | None]:
        """Publish rows; returns the ids published, the (id, reason) of the rows parked, and
        an error to raise once those are recorded."""
        try:
            await self.publish([_message(row) for row in rows])
        except Exception as error:
            if not _refused_for_good(error):
                raise
            log.warning("outbox batch refused; publishing it row by row", error=str(error))
            await self._renew_after_refusal()
            return await self._publish_one_by_one(rows)
        return [row.id for row in rows], [], None

    async def _publish_one_by_one(
        self, rows: Sequence[Row[Any]]
    ) -> tuple[list[int], list[tuple[int, str]], Exception | None]:
        published: list[int] = []
        parked: list[tuple[int, str]] = []
        blocked: set[tuple[str, str]] = set()
        for row in rows:
            if (row.topic, row.message_key) in blocked:
                continue  # held behind a row of its key parked just now
            try:
                await self.publish([_message(row)])
            except Exception as error:
                if not _refused_for_good(error):
                    return published, parked, error
                reason = describe_failure(error)
                log.error("outbox row parked", id=row.id, topic=row.topic, reason=reason)
                parked.append((row.id, reason))
                blocked.add((row.topic, row.message_key))
                await self._renew_after_refusal()
            else:
                published.append(row.id)
        return published, parked, None

    async def publish(self, messages: Sequence[Message]) -> None:
        """Send (topic, key, value[, headers]) messages and wait until Kafka has them all
        (without headers of its own, a message has ``content-type`` only).

        Record batches, not one ``send()`` each: thousands of pending send futures wake up
        quadratically (aiokafka #528). The partition is the default partitioner's (murmur2 of
        the key, as the Java client computes it), so a loan's events share one partition;
        each partition's batches go out in outbox order, the partitions concurrently.
        """
        partitions: dict[str, list[int]] = {}
        per_partition: dict[tuple[str, int], list[tuple[bytes, bytes, Headers]]] = defaultdict(list)
        for topic, key, value, *given in messages:
            if topic not in partitions:
                partitions[topic] = sorted(await self._producer.partitions_for(topic))
            partition = self._partitioner(key, partitions[topic], partitions[topic])
            per_partition[(topic, partition)].append((key, value, given[0] if given else HEADERS))
        sent = await asyncio.gather(
            *(self._send_in_order(tp, batch) for tp, batch in per_partition.items())
        )
        await asyncio.gather(*(delivery for deliveries in sent for delivery in deliveries))

    async def _send_in_order(
        self, tp: tuple[str, int], messages: Sequence[tuple[bytes, bytes, Headers]]
    ) -> list[asyncio.Future[object]]:
        """Queue one partition's messages as full record batches; returns their deliveries."""
        topic, partition = tp
        deliveries = []
        batch = self._producer.create_batch()
        for key, value, headers in messages:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                deliveries.append(
                    await self._producer.send_batch(batch, topic, partition=partition)
                )
                batch = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        deliveries.append(await self._producer.send_batch(batch, topic, partition=partition))
        return deliveries


def _message(row: Row[Any]) -> Message:
    """An outbox row as the message to send: its topic, key, value and headers."""
    trace = (row.traceparent, row.tracestate) if row.traceparent else None
    return (row.topic, row.message_key.encode(), row.payload, HEADERS + kafka_headers(trace))


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds to publish: rows waiting, the oldest one's age, rows parked."""

    pending: int
    oldest_age_seconds: float
    parked: int


async def backlog(sessions: SessionFactory) -> Backlog:
    """One query over the outbox, which holds only the rows still to publish, parked rows and
    rows given up (``published_at`` set: neither waiting nor parked)."""
    waiting = outbox.c.parked_at.is_(None)
    query = select(
        func.count().filter(waiting),
        func.coalesce(
            func.extract("epoch", func.now() - func.min(outbox.c.created_at).filter(waiting)), 0
        ),
        func.count().filter(outbox.c.parked_at.is_not(None)),
    ).where(outbox.c.published_at.is_(None))
    async with sessions() as session:
        pending, age, parked = (await session.execute(query)).one()
    return Backlog(int(pending), max(0.0, float(age)), int(parked))
