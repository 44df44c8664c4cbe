"""Violations found after the fact, as the auditor's API lists them."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import violations
from services.compliance.application.ports import LoanPair, ViolationFilter
from services.compliance.domain.judgement import Judged
from services.compliance.domain.retraction import StandingViolation
from shared.db.bulk import among


class SqlViolations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def standing(
        self, loans: Collection[LoanPair]
    ) -> dict[LoanPair, list[StandingViolation]]:
        """The violations of these (lender, loan) pairs not retracted, by pair."""
        if not loans:
            return {}
        c = violations.c
        rows = await self._session.execute(
            select(violations).where(
                among([c.lender_id, c.loan_id], loans), c.retracted_at.is_(None)
            )
        )
        found: dict[LoanPair, list[StandingViolation]] = {}
        for row in rows:
            found.setdefault((row.lender_id, row.loan_id), []).append(
                StandingViolation(
                    violation_id=row.violation_id,
                    rule_id=row.rule_id,
                    pack_version=row.pack_version,
                    loan_id=row.loan_id,
                    party=row.party,
                    agency_id=row.agency_id,
                    contact_id=row.contact_id,
                    leaf_index=row.leaf_index,
                )
            )
        return found

    async def add(self, found: Sequence[tuple[str, int, Judged]]) -> None:
        """Store violations found (lender, leaf index of its entry, violation), in one
        statement; one found again after its retraction stands again, its
        row pointing at its new violation-found entry."""
        statement = insert(violations)
        again = {
            name: statement.excluded[name]
            for name in ("leaf_index", "pack_version", "contact_at", "leaf_indexes", "explanation")
        }
        if not found:
            return
        # executemany: an array column does not fit insert_rows' unnest of column arrays
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[violations.c.violation_id],
                set_={**again, "retracted_at": None, "retraction_leaf_index": None},
            ),
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
                for lender_id, leaf_index, v in found
            ],
        )

    async def retract(self, retracted: Sequence[tuple[str, int, datetime]]) -> None:
        """Mark (violation id, retraction entry's leaf index, time) retracted."""
        if not retracted:
            return
        c = violations.c
        await self._session.execute(
            update(violations)
            .where(c.violation_id == bindparam("id"))
            .values(retracted_at=bindparam("at"), retraction_leaf_index=bindparam("leaf")),
            [{"id": i, "leaf": leaf, "at": at} for i, leaf, at in retracted],
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
        if where.status == "standing":
            conditions.append(c.retracted_at.is_(None))
        elif where.status == "retracted":
            conditions.append(c.retracted_at.is_not(None))
        rows = await self._session.execute(
            select(violations).where(and_(*conditions)).order_by(c.leaf_index).limit(limit)
        )
        return [dict(row._mapping) for row in rows]
