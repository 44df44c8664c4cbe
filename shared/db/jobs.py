"""One leased job queue over any table whose rows are jobs: notifications to send, webhook
deliveries, cases waiting for placement.

A worker claims a batch in one short statement: the rows it picks are locked ``FOR UPDATE SKIP
LOCKED`` (replicas share the work and never wait for each other) and stamped with a lease and
the worker's fencing token. Until the lease ends nobody else claims them; the worker does its
slow part (a network call) outside any transaction, then records the result with
:meth:`JobQueue.held_by` in the ``WHERE`` clause, so a worker whose lease ran out, and whose
jobs another worker has claimed since, changes nothing. A crash mid-job only delays it until
its lease ends. How long to wait before trying a failed job again is
:func:`shared.db.backoff.backoff` (pure, so domains may use it).

The table needs a primary key (one column or several), a nullable ``lease_until`` timestamp and a
nullable ``claim_token`` UUID (names can differ); when a job is due and in what order jobs are
taken are the caller's conditions. Leases are measured on the database's clock, the one clock
every replica shares.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Column, ColumnElement, RowMapping, Table, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate


@dataclass(frozen=True)
class JobQueue:
    """The jobs of ``table``: claimed under a lease and a fencing token (module docstring)."""

    table: Table
    lease_column: str = "lease_until"
    token_column: str = "claim_token"  # noqa: S105 (a column name)

    @property
    def _key(self) -> list[Column[Any]]:
        return list(self.table.primary_key.columns)

    @property
    def _lease(self) -> Column[Any]:
        return self.table.c[self.lease_column]

    @property
    def _token(self) -> Column[Any]:
        return self.table.c[self.token_column]

    def free(self) -> ColumnElement[bool]:
        """Not held: never claimed, or its lease is over."""
        return or_(self._lease.is_(None), self._lease < func.now())

    def held_by(self, token: UUID) -> ColumnElement[bool]:
        """Still this claim's: its token, and its lease not over. Put it in the ``WHERE`` of
        every write that records a job's result."""
        return (self._token == token) & (self._lease > func.now())

    def leased_for(self, lease: timedelta) -> dict[str, Any]:
        """The values that (re)start a lease of ``lease`` from now."""
        return {self.lease_column: func.now() + lease}

    def claim(
        self,
        *due: ColumnElement[bool],
        order_by: Sequence[ColumnElement[Any] | Column[Any]],
        limit: int,
        lease: timedelta,
        token: UUID,
    ) -> ReturningUpdate[Any]:
        """The statement that claims up to ``limit`` free jobs meeting ``due``, in ``order_by``
        order, for ``lease`` under ``token``; it returns the claimed rows (in no set order)."""
        key = self._key
        picked = (
            select(*key)
            .where(*due, self.free())
            .order_by(*order_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (
            update(self.table)
            .where(tuple_(*key).in_(picked) if len(key) > 1 else key[0].in_(picked))
            .values({**self.leased_for(lease), self.token_column: token})
            .returning(*self.table.c)
        )

    async def claim_rows(
        self,
        session: AsyncSession,
        *due: ColumnElement[bool],
        order_by: Sequence[ColumnElement[Any] | Column[Any]],
        limit: int,
        lease: timedelta,
        token: UUID,
    ) -> list[RowMapping]:
        """Run :meth:`claim` in ``session``; the caller commits it at once, before the slow
        part, so that other workers see the lease."""
        statement = self.claim(*due, order_by=order_by, limit=limit, lease=lease, token=token)
        return list((await session.execute(statement)).mappings())
