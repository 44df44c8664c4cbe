"""Loads the case batch a batch of events needs, and writes what applying them changed
(``SqlCaseBatchStore``, the ``CaseBatchStore`` of ``application/ports.py``).

One read per table for the whole batch (rows locked, so two consumers of a rebalanced
partition cannot interleave), one write per table after: never a statement per event.
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.rows import (
    case_of_row,
    loan_row,
    notification_of,
    notification_row,
    preferences_row,
    traced,
)
from services.notifier.adapters.tables import (
    borrowers,
    loans,
    notifications,
)
from services.notifier.adapters.writes import add_contacts, add_history, update_notifications
from services.notifier.application.ports import BorrowerKey, LoanKey
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Case, Preferences
from services.notifier.domain.lifecycle import CaseBatch
from shared.db import bulk
from shared.events.models import ContactPreferences
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel


class SqlCaseBatchStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(
        self,
        policies: CadencePolicies,
        now: datetime,
        loan_keys: Iterable[LoanKey],
        borrower_keys: Iterable[BorrowerKey] = (),
    ) -> CaseBatch:
        book = CaseBatch(policies, now)
        loan_keys, borrower_keys = set(loan_keys), set(borrower_keys)
        conditions = []
        if loan_keys and not borrower_keys:  # one array per column: planned once, index scans
            conditions.append(bulk.among((loans.c.lender_id, loans.c.loan_id), loan_keys))
        elif loan_keys:  # with borrowers too: lists, so that the OR stays two index scans
            conditions.append(tuple_(loans.c.lender_id, loans.c.loan_id).in_(loan_keys))
        if borrower_keys:
            conditions.append(tuple_(loans.c.lender_id, loans.c.borrower_ref).in_(borrower_keys))
        if conditions:
            rows = await self._session.execute(
                select(loans)
                .where(or_(*conditions))
                .order_by(loans.c.lender_id, loans.c.loan_id)
                .with_for_update()
            )
            for row in rows.mappings():
                file = case_of_row(row)
                book.loans[file.key] = file
                borrower_keys.add((file.lender_id, file.borrower_ref))
        if book.loans:
            pending = await self._session.execute(
                select(notifications)
                .where(
                    bulk.among((notifications.c.lender_id, notifications.c.loan_id), book.loans),
                    notifications.c.status == NotificationStatus.SCHEDULED.value,
                )
                .order_by(notifications.c.id)  # the order every writer locks them in
                .with_for_update()
            )
            for row in pending.mappings():
                book.pending.setdefault((row["lender_id"], row["loan_id"]), []).append(
                    notification_of(row)
                )
        book.preferences.update(await self.preferences(borrower_keys))
        return book

    async def cases_of(self, keys: Iterable[LoanKey]) -> dict[LoanKey, Case]:
        keys = set(keys)
        if not keys:
            return {}
        rows = await self._session.execute(
            select(loans).where(bulk.among((loans.c.lender_id, loans.c.loan_id), keys))
        )
        return {(r["lender_id"], r["loan_id"]): case_of_row(r) for r in rows.mappings()}

    async def preferences(self, keys: Iterable[BorrowerKey]) -> dict[BorrowerKey, Preferences]:
        keys = set(keys)
        if not keys:
            return {}
        rows = await self._session.execute(
            select(borrowers).where(
                bulk.among((borrowers.c.lender_id, borrowers.c.borrower_ref), keys)
            )
        )
        found = {}
        for row in rows.mappings():
            prefs = Preferences(
                row["lender_id"],
                row["borrower_ref"],
                ContactPreferences.model_validate(row["preferences"]),
                row["reported_at"],
                {Channel(c): datetime.fromisoformat(at) for c, at in row["reply_opt_outs"].items()},
            )
            found[(prefs.lender_id, prefs.borrower_ref)] = prefs
        return found

    async def save(self, book: CaseBatch) -> None:
        """Write what the case batch changed (its events are the use case's to publish)."""
        now = datetime.now(UTC)
        await bulk.upsert_rows(  # replaced whatever their version: the batch decided them
            self._session,
            loans,
            [loan_row(book.loans[k], now) for k in sorted(book.touched_loans)],
            ("lender_id", "loan_id"),
        )
        await bulk.upsert_rows(
            self._session,
            borrowers,
            [preferences_row(book.preferences[k]) for k in sorted(book.touched_borrowers)],
            ("lender_id", "borrower_ref"),
        )
        await bulk.insert_rows(
            self._session,
            notifications,
            [traced(notification_row(n)) for n in book.created],
            skip_conflicts=True,
        )
        created = {n.id for n in book.created}
        await update_notifications(
            self._session, [n for n in book.changed.values() if n.id not in created]
        )
        await add_history(self._session, book.transitions)
        await add_contacts(self._session, book.contacts, book.contact_keys)
