"""The append-only audit log in compliance's database."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import audit_entries, log_state
from shared.db.bulk import insert_rows

LOG_ID = 1


class AuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, rows: Sequence[dict[str, Any]]) -> int:
        """Give the rows the next leaf indices, gap-free, and store them; returns the new size.

        The size row is locked for the transaction, so concurrent writers (replicas) queue.
        """
        size = await self._session.scalar(
            select(log_state.c.size).where(log_state.c.id == LOG_ID).with_for_update()
        )
        if size is None:
            raise RuntimeError("the log_state row is missing; run the migrations")
        indexed = [{**row, "leaf_index": size + offset} for offset, row in enumerate(rows)]
        await insert_rows(self._session, audit_entries, indexed)
        new_size = size + len(rows)
        await self._session.execute(
            update(log_state).where(log_state.c.id == LOG_ID).values(size=new_size)
        )
        return int(new_size)

    async def timeline(self, subject: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(
                audit_entries.c.leaf_index,
                audit_entries.c.event_id,
                audit_entries.c.event_type,
                audit_entries.c.tenant_id,
                audit_entries.c.event_time,
                audit_entries.c.recorded_at,
                audit_entries.c.entry,
                audit_entries.c.leaf_hash,
            )
            .where(audit_entries.c.subject == subject)
            .order_by(audit_entries.c.leaf_index)
        )
        return [dict(row._mapping) for row in rows]
