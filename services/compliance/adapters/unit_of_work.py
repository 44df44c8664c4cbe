"""Compliance's stores on one database session: its unit of work (the kit's, a consumed
batch's transaction with its events to the outbox) and the auditors' reads."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.adapters.checkpoints import SqlCheckpoints
from services.compliance.adapters.cited_entries import SqlCitedEntries
from services.compliance.adapters.judging import SqlJudging
from services.compliance.adapters.promises import SqlPromiseEntries
from services.compliance.adapters.reports import SqlAgencyActivity
from services.compliance.adapters.violations import SqlViolations
from shared.db.engine import (
    COMMAND_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    SessionFactory,
    connect_ssl,
)
from shared.db.tls import PostgresTls
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic


def _nothing() -> None:
    return None


class ComplianceUnitOfWork(UnitOfWork):
    """A transaction with compliance's stores (the consumer's batch: the runner commits it);
    events published through it reach the outbox in that transaction. ``committed`` runs after
    each commit (the consumer's wakes the judging round)."""

    log: SqlAuditLog
    violations: SqlViolations
    checkpoints: SqlCheckpoints
    judging: SqlJudging

    def __init__(
        self,
        sessions: SessionFactory,
        topic_names: Callable[[Topic], str] | None = None,
        on_commit: Callable[[], None] = _nothing,
    ) -> None:
        super().__init__(sessions, topic_names, on_commit)
        self.committed: Callable[[], None] = _nothing

    def _open(self, session: AsyncSession) -> None:
        self.log = SqlAuditLog(session)
        self.violations = SqlViolations(session)
        self.checkpoints = SqlCheckpoints(session)
        self.judging = SqlJudging(session)

    async def commit(self) -> None:
        await super().commit()
        self.committed()


def waking(
    units: Callable[[], ComplianceUnitOfWork], wake: Callable[[], None]
) -> Callable[[], ComplianceUnitOfWork]:
    """Units of work from ``units`` that call ``wake`` once committed."""

    def unit() -> ComplianceUnitOfWork:
        uow = units()
        uow.committed = wake
        return uow

    return unit


class SqlAuditReads:
    """What the auditors' API reads, on one session (``unpinged``: see ``SqlAuditLog``)."""

    def __init__(self, session: AsyncSession, *, unpinged: bool = False) -> None:
        self.log = SqlAuditLog(session, unpinged=unpinged)
        self.violations = SqlViolations(session)
        self.checkpoints = SqlCheckpoints(session)
        self.activity = SqlAgencyActivity(session)
        self.promises = SqlPromiseEntries(session)
        self.cited = SqlCitedEntries(session)  # the console's entries by leaf index


def audit_reads(
    sessions: SessionFactory, *, in_transaction: bool = False, unpinged: bool = False
) -> Callable[[], AbstractAsyncContextManager[SqlAuditReads]]:
    """Reads on ``sessions``: each statement on its own (an autocommit engine's hot reads), or
    all in one transaction (``in_transaction``) for reads that must agree with each other;
    ``unpinged``: ``sessions`` are ``proof_sessions``'."""

    @asynccontextmanager
    async def reads() -> AsyncIterator[SqlAuditReads]:
        async with sessions() as session:
            if in_transaction:
                async with session.begin():
                    yield SqlAuditReads(session)
            else:
                yield SqlAuditReads(session, unpinged=unpinged)

    return reads


def proof_engine(url: str, pool_size: int, tls: PostgresTls | None) -> AsyncEngine:
    """The proofs' engine: the runtime's autocommit reads, but lending a pooled connection
    without pinging it first. The ping was a round trip as long as the proof's one read, and
    most of the route's time (py-spy); a connection lost meanwhile costs one read made again
    (``SqlAuditLog``)."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
            **connect_ssl(tls),
        },
    )
