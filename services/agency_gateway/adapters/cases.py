"""Collection cases in the gateway's database."""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import (
    assignments,
    borrower_opt_outs,
    borrower_preferences,
    collection_cases,
)
from shared.contact_rules import OptOut
from shared.db.bulk import among, update_rows, upsert_if_newer
from shared.db.jobs import JobQueue
from shared.vocabulary import Channel

LoanKey = tuple[str, str]
# What only the report that opens a case sets; a newer report replaces every other column.
OPENING_ONLY = ("status",)
CASE_KEY = [collection_cases.c.lender_id, collection_cases.c.loan_id]
DUE = collection_cases.c.placement_due_at
QUEUE = JobQueue(collection_cases)  # placement claims: a lease and a fencing token
# Every write to a case ends any placement claim on it: the case (due, since only a decision
# makes it not due) is claimed afresh, as it is now; a decision under way skips it.
UNCLAIMED: dict[str, Any] = {"lease_until": None, "claim_token": None}
ENDED_SINCE = func.coalesce(collection_cases.c.ended_at, collection_cases.c.lender_recalled_at)
PLACED = exists().where(
    assignments.c.lender_id == collection_cases.c.lender_id,
    assignments.c.loan_id == collection_cases.c.loan_id,
    assignments.c.ended_at.is_(None),
)
ERASED: dict[str, Any] = {"contact_sealed": None, "region": None, "borrower_zone": None}
BORROWER_KEY = [borrower_preferences.c.lender_id, borrower_preferences.c.borrower_ref]


class CaseStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Open or update cases (each due for a placement decision); a report older than the
        stored one changes nothing, and the status is the gateway's own."""
        await upsert_if_newer(
            self._session,
            collection_cases,
            [row | UNCLAIMED for row in rows],
            key=("lender_id", "loan_id"),
            insert_only=OPENING_ONLY,
        )

    async def record_decided(self, rows: Sequence[dict[str, Any]]) -> None:
        """Open or update cases with their placement decision, status included, in one
        statement (the caller locked the stored ones and left out older reports)."""
        await upsert_if_newer(
            self._session,
            collection_cases,
            [row | UNCLAIMED for row in rows],
            key=("lender_id", "loan_id"),
        )

    async def get(self, lender_id: str, loan_id: str) -> dict[str, Any] | None:
        row = (
            await self._session.execute(
                select(collection_cases).where(
                    collection_cases.c.lender_id == lender_id, collection_cases.c.loan_id == loan_id
                )
            )
        ).first()
        return dict(row._mapping) if row else None

    async def for_update(self, keys: Collection[LoanKey]) -> dict[LoanKey, dict[str, Any]]:
        """The known cases among ``keys``, locked until the transaction ends."""
        if not keys:
            return {}
        rows = await self._session.execute(
            select(collection_cases)
            .where(among(CASE_KEY, keys))
            .order_by(collection_cases.c.lender_id, collection_cases.c.loan_id)
            .with_for_update()
        )
        return {(r.lender_id, r.loan_id): dict(r._mapping) for r in rows}

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[LoanKey]:
        """The cases due for a placement decision, oldest due first, claimed under ``token``
        for ``lease`` (``shared.db.jobs``): no other worker takes them until it ends."""
        rows = await QUEUE.claim_rows(
            self._session,
            collection_cases.c.placement_due_at <= now,
            order_by=[DUE],
            limit=limit,
            lease=lease,
            token=token,
        )
        return [(r["lender_id"], r["loan_id"]) for r in sorted(rows, key=lambda r: r[DUE.key])]

    async def held(self, keys: Collection[LoanKey], token: UUID) -> list[dict[str, Any]]:
        """The cases among ``keys`` that the claim ``token`` still holds, as they are now,
        oldest due first, locked until the transaction ends. A case being written elsewhere
        is skipped: that write ends the claim (``UNCLAIMED``), and the case is claimed again
        once it commits. Only a decision clears a case's due time, so a case still held is
        still due."""
        if not keys:
            return []
        rows = await self._session.execute(
            select(collection_cases)
            .where(among(CASE_KEY, keys), QUEUE.held_by(token))
            .order_by(DUE)
            .with_for_update(skip_locked=True)
        )
        return [dict(r._mapping) for r in rows]

    async def change_each(self, rows: Sequence[dict[str, Any]]) -> None:
        """Give each case (``lender_id``, ``loan_id``) the other values of its row, in one
        statement (the rows share their columns)."""
        await update_rows(
            self._session,
            collection_cases,
            [row | UNCLAIMED for row in rows],
            key=("lender_id", "loan_id"),
        )

    async def change(self, key: LoanKey, **values: Any) -> None:
        await self._session.execute(
            update(collection_cases)
            .where(collection_cases.c.lender_id == key[0], collection_cases.c.loan_id == key[1])
            .values(**(values | UNCLAIMED))
        )

    async def due_now(self, keys: Collection[LoanKey], now: datetime) -> None:
        if keys:
            await self._session.execute(
                update(collection_cases)
                .where(among(CASE_KEY, keys))
                .values(placement_due_at=now, **UNCLAIMED)
            )

    async def of_borrower(self, lender_id: str, borrower_ref: str) -> list[dict[str, Any]]:
        """Every case of the borrower at the lender, locked until the transaction ends."""
        rows = await self._session.execute(
            select(collection_cases)
            .where(
                collection_cases.c.lender_id == lender_id,
                collection_cases.c.borrower_ref == borrower_ref,
            )
            .order_by(collection_cases.c.loan_id)
            .with_for_update()
        )
        return [dict(r._mapping) for r in rows]

    async def erasable(self, ended_by: datetime, limit: int) -> list[LoanKey]:
        """Up to ``limit`` cases still holding contact details whose loan ended (cured,
        closed or recalled) by ``ended_by`` and that no agency holds, locked (``SKIP
        LOCKED``: replicas share the work)."""
        rows = await self._session.execute(
            select(collection_cases.c.lender_id, collection_cases.c.loan_id)
            .where(
                collection_cases.c.contact_sealed.is_not(None),
                ended_by >= ENDED_SINCE,
                ~PLACED,
            )
            .order_by(ENDED_SINCE)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(lender, loan) for lender, loan in rows]

    async def erase_contacts(self, keys: Collection[LoanKey], now: datetime) -> None:
        """The cases' contact details, region and time zone erased (a placement claim on them
        stands: erasure changes nothing placement decides on)."""
        if keys:
            await self._session.execute(
                update(collection_cases)
                .where(among(CASE_KEY, keys))
                .values(**ERASED, contact_erased_at=now)
            )

    async def borrowers_due_now(self, lender_id: str, borrower_ref: str, now: datetime) -> None:
        await self._session.execute(
            update(collection_cases)
            .where(
                collection_cases.c.lender_id == lender_id,
                collection_cases.c.borrower_ref == borrower_ref,
            )
            .values(placement_due_at=now, **UNCLAIMED)
        )


class PreferenceStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, row: dict[str, Any]) -> None:
        statement = pg_insert(borrower_preferences).values(row)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    borrower_preferences.c.lender_id,
                    borrower_preferences.c.borrower_ref,
                ],
                set_={
                    k: statement.excluded[k] for k in ("cease", "attorney", "preferences", "as_of")
                },
                where=borrower_preferences.c.as_of <= statement.excluded.as_of,
            )
        )

    async def of(
        self, borrowers: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        if not borrowers:
            return {}
        rows = await self._session.execute(
            select(borrower_preferences).where(
                among(
                    [borrower_preferences.c.lender_id, borrower_preferences.c.borrower_ref],
                    borrowers,
                )
            )
        )
        return {(r.lender_id, r.borrower_ref): dict(r._mapping) for r in rows}


class OptOutStore:
    """The channels borrowers opted out of by reply; the earliest reply per channel stays."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = pg_insert(borrower_opt_outs).values(list(rows))
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=list(borrower_opt_outs.primary_key.columns),
                set_={"at": func.least(borrower_opt_outs.c.at, statement.excluded.at)},
            )
        )

    async def of(self, lender_id: str, borrower_ref: str) -> list[OptOut]:
        rows = await self._session.execute(
            select(borrower_opt_outs.c.channel, borrower_opt_outs.c.at).where(
                borrower_opt_outs.c.lender_id == lender_id,
                borrower_opt_outs.c.borrower_ref == borrower_ref,
            )
        )
        return [OptOut(Channel(channel), at) for channel, at in rows]
