"""Violations found after the fact, as the auditor's API lists them."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import violations
from services.compliance.domain.judgement import Judged


@dataclass(frozen=True)
class ViolationFilter:
    lender_id: str | None = None
    rule_id: str | None = None
    agency_id: str | None = None
    loan_id: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    after_index: int = -1


class Violations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def known(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = await self._session.execute(
            select(violations.c.violation_id).where(violations.c.violation_id.in_(ids))
        )
        return set(rows.scalars())

    async def add(self, lender_id: str, found: Sequence[tuple[int, Judged]]) -> None:
        # executemany: an array column does not fit insert_rows' unnest of column arrays
        await self._session.execute(
            insert(violations),
            [
                {
                    "violation_id": v.violation_id,
                    "leaf_index": leaf_index,
                    "lender_id": lender_id,
                    "loan_id": v.loan_id,
                    "rule_id": v.rule_id,
                    "pack_version": v.pack_version,
                    "party": v.party,
                    "agency_id": v.agency_id,
                    "contact_id": v.contact_id,
                    "contact_at": v.contact_at,
                    "leaf_indexes": list(v.leaf_indexes),
                    "explanation": v.explanation,
                }
                for leaf_index, v in found
            ],
        )

    async def page(self, where: ViolationFilter, limit: int) -> list[dict[str, Any]]:
        c = violations.c
        conditions = [c.leaf_index > where.after_index]
        for column, value in (
            (c.lender_id, where.lender_id),
            (c.rule_id, where.rule_id),
            (c.agency_id, where.agency_id),
            (c.loan_id, where.loan_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if where.time_from is not None:
            conditions.append(c.contact_at >= where.time_from)
        if where.time_to is not None:
            conditions.append(c.contact_at < where.time_to)
        rows = await self._session.execute(
            select(violations).where(and_(*conditions)).order_by(c.leaf_index).limit(limit)
        )
        return [dict(row._mapping) for row in rows]
