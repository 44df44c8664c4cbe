"""Entries by leaf index, for the console: the entries a violation cites and the one entry an
inclusion proof is checked for, each within the reader's lender (None: every lender)."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.audit_log import ENTRY_COLUMNS
from services.compliance.adapters.tables import audit_entries
from services.compliance.application.ports import EntryRow


class SqlCitedEntries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def at(self, lender_id: str | None, leaf_indexes: Collection[int]) -> dict[int, EntryRow]:
        """The entries at these leaf indexes that the lender's (any, for None) log holds, in
        one read; an index of another lender's entry is simply absent."""
        if not leaf_indexes:
            return {}
        query = select(*ENTRY_COLUMNS).where(
            audit_entries.c.leaf_index.in_(sorted(set(leaf_indexes)))
        )
        if lender_id is not None:
            query = query.where(audit_entries.c.tenant_id == lender_id)
        rows = (await self._session.execute(query)).mappings()
        return {row["leaf_index"]: dict(row) for row in rows}
