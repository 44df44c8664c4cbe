"""Assignments (placements with agencies) in the gateway's database."""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import assignments
from services.agency_gateway.domain.cases import HOLD_RECALL_PREFIX, HOLD_RECALLS
from shared.db.bulk import among, insert_rows

LoanKey = tuple[str, str]
ACTIVE = ("placed", "acknowledged")
LOAN_KEY = [assignments.c.lender_id, assignments.c.loan_id]
RECALLED_BY_HOLD = and_(
    assignments.c.status == "recalled",
    or_(
        assignments.c.end_reason.in_(HOLD_RECALLS),
        assignments.c.end_reason.startswith(HOLD_RECALL_PREFIX, autoescape=True),
    ),
)


class AssignmentStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await insert_rows(self._session, assignments, rows)

    async def get(self, assignment_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        query = select(assignments).where(assignments.c.assignment_id == assignment_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return dict(row._mapping) if row else None

    async def active(self, keys: Collection[LoanKey]) -> dict[LoanKey, dict[str, Any]]:
        if not keys:
            return {}
        rows = await self._session.execute(
            select(assignments).where(
                among(LOAN_KEY, keys),
                assignments.c.ended_at.is_(None),
            )
        )
        return {(r.lender_id, r.loan_id): dict(r._mapping) for r in rows}

    async def past_agencies(self, keys: Collection[LoanKey]) -> dict[LoanKey, set[str]]:
        """The agencies that held each loan before (a re-placement goes elsewhere), but for
        those a hold took it back from (``domain.cases.recalled_by_hold``)."""
        found: dict[LoanKey, set[str]] = {}
        if keys:
            rows = await self._session.execute(
                select(assignments.c.lender_id, assignments.c.loan_id, assignments.c.agency_id)
                .where(among(LOAN_KEY, keys), ~RECALLED_BY_HOLD)
                .distinct()
            )
            for lender_id, loan_id, agency_id in rows:
                found.setdefault((lender_id, loan_id), set()).add(agency_id)
        return found

    async def of_loans(self, keys: Collection[LoanKey]) -> list[dict[str, Any]]:
        """Every assignment of the loans, oldest first."""
        if not keys:
            return []
        rows = await self._session.execute(
            select(assignments)
            .where(among(LOAN_KEY, keys))
            .order_by(assignments.c.placed_at, assignments.c.assignment_id)
        )
        return [dict(r._mapping) for r in rows]

    async def of_loan(self, lender_id: str, loan_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(assignments)
            .where(assignments.c.lender_id == lender_id, assignments.c.loan_id == loan_id)
            .order_by(assignments.c.placed_at.desc())
        )
        return [dict(r._mapping) for r in rows]

    async def claim_lapsed(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Active assignments past their acknowledgement lease or their term, locked."""
        rows = await self._session.execute(
            select(assignments)
            .where(
                assignments.c.ended_at.is_(None),
                or_(
                    and_(assignments.c.status == "placed", assignments.c.ack_due_at <= now),
                    assignments.c.expires_at <= now,
                ),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [dict(r._mapping) for r in rows]

    async def announce_expiring(
        self, now: datetime, within: timedelta, limit: int
    ) -> list[dict[str, Any]]:
        """Active assignments expiring within ``within`` not announced yet, marked announced."""
        due = (
            select(assignments.c.assignment_id)
            .where(
                assignments.c.ended_at.is_(None),
                assignments.c.expiring_announced_at.is_(None),
                assignments.c.expires_at <= now + within,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = await self._session.execute(
            update(assignments)
            .where(assignments.c.assignment_id.in_(due.scalar_subquery()))
            .values(expiring_announced_at=now)
            .returning(assignments)
        )
        return [dict(r._mapping) for r in rows]

    async def change(self, assignment_id: str, **values: Any) -> None:
        await self._session.execute(
            update(assignments).where(assignments.c.assignment_id == assignment_id).values(**values)
        )

    async def notice_sent(self, lender_id: str, loan_id: str, agency_id: str, at: datetime) -> None:
        await self._session.execute(
            update(assignments)
            .where(
                assignments.c.lender_id == lender_id,
                assignments.c.loan_id == loan_id,
                assignments.c.agency_id == agency_id,
                assignments.c.ended_at.is_(None),
                assignments.c.notice_sent_at.is_(None),
            )
            .values(notice_sent_at=at, updated_at=func.now())
        )
