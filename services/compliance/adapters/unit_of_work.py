"""Compliance's stores on one database session: the consumer's unit of work (a batch's
transaction, its events to the outbox) and the auditors' reads."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.adapters.checkpoints import SqlCheckpoints
from services.compliance.adapters.promises import SqlPromiseEntries
from services.compliance.adapters.reports import SqlAgencyActivity
from services.compliance.adapters.violations import SqlViolations
from shared.db.engine import SessionFactory
from shared.events.envelope import Envelope
from shared.kafka import outbox


class ComplianceUnitOfWork:
    """The consumed batch's transaction (the consumer runner's) with compliance's stores;
    events published through it reach the outbox when ``write_outbox`` runs, in it."""

    log: SqlAuditLog
    violations: SqlViolations
    checkpoints: SqlCheckpoints

    def __init__(self, session: AsyncSession, topic: str) -> None:
        self.session = session
        self._topic = topic
        self._events: list[Envelope] = []
        self._open(session)

    def _open(self, session: AsyncSession) -> None:
        self.log = SqlAuditLog(session)
        self.violations = SqlViolations(session)
        self.checkpoints = SqlCheckpoints(session)

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

    async def write_outbox(self) -> None:
        await outbox.enqueue(self.session, self._topic, self._events)
        self._events = []


class SqlAuditReads:
    """What the auditors' API reads, on one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.log = SqlAuditLog(session)
        self.violations = SqlViolations(session)
        self.checkpoints = SqlCheckpoints(session)
        self.activity = SqlAgencyActivity(session)
        self.promises = SqlPromiseEntries(session)


def audit_reads(
    sessions: SessionFactory, *, in_transaction: bool = False
) -> Callable[[], AbstractAsyncContextManager[SqlAuditReads]]:
    """Reads on ``sessions``: each statement on its own (an autocommit engine's hot reads), or
    all in one transaction (``in_transaction``) for reads that must agree with each other."""

    @asynccontextmanager
    async def reads() -> AsyncIterator[SqlAuditReads]:
        async with sessions() as session:
            if in_transaction:
                async with session.begin():
                    yield SqlAuditReads(session)
            else:
                yield SqlAuditReads(session)

    return reads
