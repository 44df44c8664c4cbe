"""The unit of work on intake's database: one transaction, its stores, and the outbox."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from services.intake.adapters.history import SqlEventHistory
from services.intake.adapters.idempotency import SqlIdempotencyKeys
from services.intake.adapters.loans import SqlLoanStore
from shared.db.engine import SessionFactory
from shared.events.envelope import Envelope
from shared.kafka import outbox


class SqlUnitOfWork:
    """Rolls back unless ``commit()`` was called; events published through it reach the outbox
    in the transaction ``commit()`` commits, and ``on_commit`` runs after it."""

    session: AsyncSession
    loans: SqlLoanStore
    history: SqlEventHistory
    idempotency_keys: SqlIdempotencyKeys

    def __init__(self, sessions: SessionFactory, topic: str, on_commit: Callable[[], None]) -> None:
        self._sessions = sessions
        self._topic = topic
        self._on_commit = on_commit
        self._events: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        try:
            self._transaction: AsyncSessionTransaction = await self.session.begin()
        except BaseException:
            await self.session.close()
            raise
        self.loans = SqlLoanStore(self.session)
        self.history = SqlEventHistory(self.session)
        self.idempotency_keys = SqlIdempotencyKeys(self.session)
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
        await outbox.enqueue(self.session, self._topic, self._events)
        await self._transaction.commit()
        self._events = []
        self._on_commit()


def unit_of_work_factory(
    sessions: SessionFactory, topic: str, on_commit: Callable[[], None]
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(sessions, topic, on_commit)
