"""The unit of work on the notifier's database: one transaction, its stores, and the outbox."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from services.notifier.adapters.case_batch_store import SqlCaseBatchStore
from services.notifier.adapters.notification_queries import SqlNotificationReads
from services.notifier.adapters.receipt_store import SqlReceiptStore
from services.notifier.adapters.sending_store import SqlSendingStore
from shared.db.engine import SessionFactory
from shared.events.envelope import Envelope
from shared.kafka import outbox


def _nothing() -> None:
    return None


class NotifierUnitOfWork:
    """Rolls back unless ``commit()`` was called; events published through it reach the
    outbox in the transaction ``commit()`` commits, and ``on_commit`` runs after."""

    session: AsyncSession
    cases: SqlCaseBatchStore
    sending: SqlSendingStore
    receipts: SqlReceiptStore
    notifications: SqlNotificationReads

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        topic: str,
        on_commit: Callable[[], None] = _nothing,
    ) -> None:
        self._sessions = sessions
        self._topic = topic
        self._on_commit = on_commit
        self._events: list[Envelope] = []

    def _open(self, session: AsyncSession) -> None:
        self.cases = SqlCaseBatchStore(session)
        self.sending = SqlSendingStore(session)
        self.receipts = SqlReceiptStore(session)
        self.notifications = SqlNotificationReads(session)

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
        if self._events:
            await outbox.enqueue(self.session, self._topic, self._events)
        await self._transaction.commit()
        published, self._events = self._events, []
        if published:
            self._on_commit()


def unit_of_work_factory(
    sessions: SessionFactory, topic: str, on_commit: Callable[[], None] = _nothing
) -> Callable[[], NotifierUnitOfWork]:
    return lambda: NotifierUnitOfWork(sessions, topic, on_commit)


class JoinedUnitOfWork(NotifierUnitOfWork):
    """The stores on a transaction someone else commits (the consumer runner's): ``commit``
    queues the published events in it, and leaving the block leaves it open."""

    def __init__(self, session: AsyncSession, topic: str) -> None:
        super().__init__(lambda: session, topic)
        self.session = session

    async def __aenter__(self) -> Self:
        self._open(self.session)
        self._events = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def commit(self) -> None:
        await outbox.enqueue(self.session, self._topic, self._events)
        self._events = []
