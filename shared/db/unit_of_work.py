"""The unit of work every service uses: one transaction, its stores, and the events it publishes.

Events published through a unit of work reach the outbox in the transaction ``commit()``
commits, so a change and its events are stored together or not at all, each on its type's topic
(the event catalogue says which) in the order published; ``on_commit`` runs after
(the runtime wakes the outbox relay with it). A service subclasses it to make its stores on the
transaction's session in ``_open``; its use cases see the stores and ``publish``, never the
session. Leaving the block without ``commit()`` rolls everything back.
"""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from itertools import groupby
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from shared.db.bulk import insert_rows
from shared.db.engine import SessionFactory
from shared.db.kit_tables import outbox
from shared.events.catalog import EVENT_TYPES
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.observability.metrics import count_committed
from shared.observability.tracing import Carrier, carrier_for


async def enqueue(
    session: AsyncSession,
    topic: str,
    envelopes: Sequence[Envelope],
    traces: Sequence[Carrier | None] | None = None,
) -> None:
    """Add events to the outbox in the caller's transaction, keyed by tenant and subject,
    each with its trace context (``traces``, one per event; by default the one
    :func:`~shared.observability.tracing.carrier_for` gives its key now)."""
    if traces is None:
        traces = [carrier_for(envelope.key) for envelope in envelopes]
    await insert_rows(
        session,
        outbox,
        [
            {
                "event_id": envelope.id,
                "topic": topic,
                "message_key": envelope.key,
                "payload": envelope.to_bytes(),
                "traceparent": trace[0] if trace else None,
                "tracestate": trace[1] if trace else None,
            }
            for envelope, trace in zip(envelopes, traces, strict=True)
        ],
    )


def _nothing() -> None:
    return None


class UnitOfWork:
    """Rolls back unless ``commit()`` was called (see the module's docstring)."""

    session: AsyncSession

    def __init__(
        self,
        sessions: SessionFactory,
        topic_names: Callable[[Topic], str] | None = None,
        on_commit: Callable[[], None] = _nothing,
    ) -> None:
        """``topic_names`` names a topic in this deployment (``ServiceRuntime.topic``); a unit
        of work without it publishes nothing."""
        self._sessions = sessions
        self._topic_names = topic_names
        self._on_commit = on_commit
        self._events: list[tuple[Envelope, Carrier | None]] = []

    def _open(self, session: AsyncSession) -> None:
        """Make the service's stores on ``session``; a subclass's hook."""

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        try:
            self._transaction: AsyncSessionTransaction = await self.session.begin()
            self._open(self.session)
        except BaseException:
            await self.session.close()
            raise
        self._events = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self.session.close()

    def publish(self, envelope: Envelope) -> None:
        """Queue an event for the outbox; it is stored by ``commit()``, with everything else,
        and with the trace context of the work publishing it now (that of the consumed event
        of its key, when a consumer's handler publishes it)."""
        if self._topic_names is None:
            raise RuntimeError("this unit of work publishes no events (it names no topics)")
        if envelope.type not in EVENT_TYPES:
            raise ValueError(f"{envelope.type} is not in the event catalogue: no topic for it")
        self._events.append((envelope, carrier_for(envelope.key)))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Work inside it is undone, events included, if the block raises."""
        published = len(self._events)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._events[published:]
            raise

    async def commit(self) -> None:
        if self._events and self._topic_names is not None:  # publish() takes none without
            topic_names = self._topic_names
            for topic, run in groupby(self._events, key=lambda e: EVENT_TYPES[e[0].type].topic):
                events, traces = zip(*run, strict=True)
                await enqueue(self.session, topic_names(topic), events, traces)
        await self._transaction.commit()
        published, self._events = self._events, []
        if published:
            count_committed([envelope for envelope, _ in published])
            self._on_commit()
