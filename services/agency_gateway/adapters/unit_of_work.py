"""The gateway's unit of work: one transaction, its stores, and the outbox written in it.

The gateway publishes on two topics (assignments, agencies' activities): each event goes to
its type's topic, in the order it was published.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import groupby
from typing import Any, Self, cast

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from services.agency_gateway.adapters.activities import ActivityLog
from services.agency_gateway.adapters.agencies import AgencyRegistry
from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import CaseStore, OptOutStore, PreferenceStore
from services.agency_gateway.adapters.commitments import CommitmentStore
from services.agency_gateway.adapters.ledger import ContactLedger
from services.agency_gateway.adapters.webhooks import DeliveryLog
from shared.db.engine import SessionFactory
from shared.events.catalog import EVENT_TYPES
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.kafka import outbox

TopicNames = Callable[[Topic], str]  # a topic's name in this deployment (``runtime.topic``)


def _nothing() -> None:
    return None


class GatewayUnitOfWork:
    """Rolls back unless ``commit()`` was called; events published through it reach the
    outbox in the transaction ``commit()`` commits, and ``on_commit`` runs after it."""

    session: AsyncSession
    cases: CaseStore
    preferences: PreferenceStore
    opt_outs: OptOutStore
    assignments: AssignmentStore
    agencies: AgencyRegistry
    activities: ActivityLog
    commitments: CommitmentStore
    ledger: ContactLedger
    deliveries: DeliveryLog

    def __init__(
        self,
        sessions: SessionFactory,
        topic_names: TopicNames,
        on_commit: Callable[[], None] = _nothing,
    ) -> None:
        self._sessions = sessions
        self._topic_names = topic_names
        self._on_commit = on_commit
        self._events: list[Envelope] = []

    def _open(self, session: AsyncSession) -> None:
        self.cases = CaseStore(session)
        self.preferences = PreferenceStore(session)
        self.opt_outs = OptOutStore(session)
        self.assignments = AssignmentStore(session)
        self.agencies = AgencyRegistry(session)
        self.activities = ActivityLog(session)
        self.commitments = CommitmentStore(session)
        self.ledger = ContactLedger(session)
        self.deliveries = DeliveryLog(session)

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
        self._events.append(envelope)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        published = len(self._events)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._events[published:]
            raise

    async def commit(self) -> None:
        published, self._events = self._events, []
        await enqueue_by_topic(self.session, self._topic_names, published)
        await self._transaction.commit()
        if published:
            self._on_commit()


async def enqueue_by_topic(
    session: AsyncSession, topic_names: TopicNames, events: list[Envelope]
) -> None:
    """Each run of events of one topic into the outbox, in the order they were published."""
    for topic, run in groupby(events, key=lambda e: EVENT_TYPES[e.type].topic):
        await outbox.enqueue(session, topic_names(topic), list(run))


def unit_of_work_factory(
    sessions: SessionFactory, topic_names: TopicNames, on_commit: Callable[[], None] = _nothing
) -> Callable[[], GatewayUnitOfWork]:
    return lambda: GatewayUnitOfWork(sessions, topic_names, on_commit)


def in_session(
    use_case: Callable[[GatewayUnitOfWork, Any], Awaitable[None]], topic_names: TopicNames
) -> Callable[[AsyncSession, Any], Awaitable[None]]:
    """A use case as a consumer handler, on the batch's session: its stores on that session,
    its events into the outbox in the batch's transaction."""

    async def handler(session: AsyncSession, events: Any) -> None:
        uow = GatewayUnitOfWork(cast(SessionFactory, lambda: session), topic_names)
        uow.session = session
        uow._open(session)
        await use_case(uow, events)
        await enqueue_by_topic(session, topic_names, uow._events)

    return handler
