"""Loans, their holds and borrowers' contact preferences in intake's database.

The one place a loan becomes a row and a row a ``Loan``.
"""

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    RowMapping,
    Text,
    any_,
    bindparam,
    exists,
    func,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.driver import driver_connection, rows_as_columns
from services.intake.adapters.tables import contact_preferences, holds, loan_events, loans
from services.intake.application.ports import ReportedLoan, StoredBorrower, StoredPreferences
from services.intake.domain.disputes import BorrowerChoices
from services.intake.domain.loan import Hold, Loan, LoanStatus
from shared.crypto import SealedValue
from shared.db.bulk import insert_rows
from shared.events.catalog import PLACEMENT_RECALLED
from shared.events.models import (
    ClosureReason,
    ContactPreferences,
    HoldReason,
    InconvenientTime,
)
from shared.vocabulary import Channel, Jurisdiction

# Every column but the borrower's sealed contact details, which a Loan never holds.
_LOAN_COLUMNS = (
    loans.c.lender_id,
    loans.c.loan_id,
    loans.c.borrower_ref,
    loans.c.jurisdiction,
    loans.c.product,
    loans.c.currency,
    loans.c.amount_overdue,
    loans.c.paid_since_report,
    loans.c.due_date,
    loans.c.days_past_due,
    loans.c.as_of,
    loans.c.status,
    loans.c.closure_reason,
)
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(CAST(:lender AS text) || '/' || x, 0))"
    " FROM (SELECT x FROM unnest(CAST(:ids AS text[])) AS x ORDER BY x) AS ordered"
)
_HOLD_COLUMNS = (holds.c.hold_id, holds.c.reason, holds.c.placed_at, holds.c.lifted_at)


class SqlLoanStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, lender_id: str, loan_ids: Collection[str]) -> dict[str, Loan]:
        """Lock each (lender, loan), known or not, until the transaction ends; return the known.

        A transaction-scoped advisory lock per loan (taken in loan order, one statement) covers
        loans with no row yet: two first reports of one new loan then run one after the other,
        so the "new loan" decision and the outbox order are made under the lock. The rows are
        then locked with ``loan_id = ANY(array)``: one parameter and one index scan."""
        if not loan_ids:
            return {}
        await self._session.execute(_ADVISORY_LOCKS, {"lender": lender_id, "ids": list(loan_ids)})
        rows = await self._session.execute(
            select(*_LOAN_COLUMNS)
            .where(
                loans.c.lender_id == lender_id,
                loans.c.loan_id == any_(bindparam("loan_ids", type_=ARRAY(Text))),
            )
            .order_by(loans.c.lender_id, loans.c.loan_id)
            .with_for_update(),
            {"loan_ids": list(loan_ids)},
        )
        return {row.loan_id: _loan(row._mapping) for row in rows}

    async def get(self, lender_id: str, loan_id: str) -> Loan | None:
        row = (
            await self._session.execute(
                select(*_LOAN_COLUMNS).where(
                    loans.c.lender_id == lender_id, loans.c.loan_id == loan_id
                )
            )
        ).first()
        return _loan(row._mapping) if row else None

    async def save_reported(self, reported: Sequence[ReportedLoan]) -> None:
        """Insert the loans, or replace a stored loan's figures and borrower if its report is
        older: one statement, one array a column (``_SAVE_REPORTED``)."""
        if not reported:
            return
        now = datetime.now(UTC)
        connection = await driver_connection(self._session)
        await connection.execute(
            _SAVE_REPORTED, *rows_as_columns([_reported_row(item, now) for item in reported], 18)
        )

    async def save(self, loan: Loan) -> None:
        await self._session.execute(
            update(loans)
            .where(loans.c.lender_id == loan.lender_id, loans.c.loan_id == loan.loan_id)
            .values(
                status=loan.status.value,
                amount_overdue=loan.amount_overdue,
                days_past_due=loan.days_past_due,
                as_of=loan.as_of,
                paid_since_report=loan.paid_since_report,
                closure_reason=loan.closure_reason.value if loan.closure_reason else None,
                updated_at=func.now(),
            )
        )

    async def holds_of(self, lender_id: str, loan_id: str) -> list[Hold]:
        rows = await self._session.execute(
            select(*_HOLD_COLUMNS)
            .where(holds.c.lender_id == lender_id, holds.c.loan_id == loan_id)
            .order_by(holds.c.placed_at)
        )
        return [_hold(row._mapping) for row in rows]

    async def lock_hold(self, lender_id: str, loan_id: str, hold_id: str) -> Hold | None:
        row = (
            await self._session.execute(
                select(*_HOLD_COLUMNS)
                .where(
                    holds.c.lender_id == lender_id,
                    holds.c.loan_id == loan_id,
                    holds.c.hold_id == hold_id,
                )
                .with_for_update()
            )
        ).first()
        return _hold(row._mapping) if row else None

    async def add_hold(self, lender_id: str, loan_id: str, hold: Hold) -> bool:
        inserted = await self._session.execute(
            pg_insert(holds)
            .values(
                lender_id=lender_id,
                loan_id=loan_id,
                hold_id=hold.hold_id,
                reason=hold.reason.value,
                placed_at=hold.placed_at,
            )
            .on_conflict_do_nothing()
            .returning(holds.c.hold_id)
        )
        return inserted.first() is not None

    async def lift_hold(self, lender_id: str, hold_id: str, at: datetime) -> None:
        await self._session.execute(
            update(holds)
            .where(holds.c.lender_id == lender_id, holds.c.hold_id == hold_id)
            .values(lifted_at=at)
        )

    async def add_holds(self, lender_id: str, holds_to_add: Sequence[tuple[str, Hold]]) -> None:
        await insert_rows(
            self._session,
            holds,
            [
                {
                    "lender_id": lender_id,
                    "loan_id": loan_id,
                    "hold_id": hold.hold_id,
                    "reason": hold.reason.value,
                    "placed_at": hold.placed_at,
                }
                for loan_id, hold in holds_to_add
            ],
            skip_conflicts=True,
        )

    async def preferences_of(self, lender_id: str, borrower_id: str) -> StoredPreferences | None:
        row = (
            await self._session.execute(
                select(
                    contact_preferences.c.preferences,
                    contact_preferences.c.reported,
                    contact_preferences.c.borrower_choices,
                )
                .where(
                    contact_preferences.c.lender_id == lender_id,
                    contact_preferences.c.borrower_id == borrower_id,
                )
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        effective = ContactPreferences.model_validate(row.preferences)
        reported = ContactPreferences.model_validate(row.reported) if row.reported else effective
        return StoredPreferences(reported, _choices(row.borrower_choices), effective)

    async def save_preferences(
        self, lender_id: str, borrower_id: str, borrower_ref: str, preferences: StoredPreferences
    ) -> int:
        choices = preferences.choices
        statement = pg_insert(contact_preferences).values(
            lender_id=lender_id,
            borrower_id=borrower_id,
            borrower_ref=borrower_ref,
            preferences=preferences.effective.model_dump(mode="json"),
            reported=preferences.reported.model_dump(mode="json"),
            borrower_choices={
                "opted_out_channels": [c.value for c in choices.opted_out_channels],
                "inconvenient_times": [
                    t.model_dump(mode="json") for t in choices.inconvenient_times
                ],
            },
            version=1,
        )
        version = await self._session.scalar(
            statement.on_conflict_do_update(
                index_elements=[contact_preferences.c.lender_id, contact_preferences.c.borrower_id],
                set_={
                    "preferences": statement.excluded.preferences,
                    "reported": statement.excluded.reported,
                    "borrower_choices": statement.excluded.borrower_choices,
                    "version": contact_preferences.c.version + 1,
                    "updated_at": func.now(),
                },
            ).returning(contact_preferences.c.version)
        )
        return int(version or 1)

    async def borrower_of(self, lender_id: str, loan_id: str) -> StoredBorrower | None:
        rows = await self._session.execute(
            select(*_LOAN_COLUMNS, *_BORROWER_COLUMNS).where(
                loans.c.lender_id == lender_id, loans.c.loan_id == loan_id
            )
        )
        row = rows.first()
        return _stored_borrower(row._mapping) if row else None

    async def loans_of_borrower(self, lender_id: str, borrower_ref: str) -> list[StoredBorrower]:
        rows = await self._session.execute(
            select(*_LOAN_COLUMNS, *_BORROWER_COLUMNS)
            .where(loans.c.lender_id == lender_id, loans.c.borrower_ref == borrower_ref)
            .order_by(loans.c.loan_id)
        )
        return [_stored_borrower(row._mapping) for row in rows]

    async def erase_contacts(self, lender_id: str, loan_ids: Collection[str]) -> None:
        if not loan_ids:
            return
        await self._session.execute(
            update(loans)
            .where(
                loans.c.lender_id == lender_id,
                loans.c.loan_id == any_(bindparam("loan_ids", type_=ARRAY(Text))),
            )
            .values(contact_sealed=null(), updated_at=func.now()),  # SQL NULL, not JSON null
            {"loan_ids": list(loan_ids)},
        )


# Recalled: the lender took the loan back after its latest report (a newer report puts it
# back into collection).
_RECALLED = (
    exists()
    .where(
        loan_events.c.lender_id == loans.c.lender_id,
        loan_events.c.loan_id == loans.c.loan_id,
        loan_events.c.event_type == PLACEMENT_RECALLED.name,
        loan_events.c.occurred_at >= loans.c.as_of,
    )
    .label("recalled")
)
_BORROWER_COLUMNS = (
    loans.c.borrower_id,
    loans.c.contact_sealed,
    loans.c.locale,
    loans.c.timezone,
    loans.c.region,
    loans.c.updated_at,
    _RECALLED,
)


def _stored_borrower(row: RowMapping) -> StoredBorrower:
    sealed = row["contact_sealed"]
    return StoredBorrower(
        loan=_loan(row),
        borrower_id=row["borrower_id"],
        contact=SealedValue.model_validate(sealed) if sealed else None,
        locale=row["locale"],
        timezone=row["timezone"],
        region=row["region"],
        updated_at=row["updated_at"],
        recalled=bool(row["recalled"]),
    )


def _choices(stored: dict[str, Any] | None) -> BorrowerChoices:
    if not stored:
        return BorrowerChoices()
    return BorrowerChoices(
        tuple(Channel(c) for c in stored.get("opted_out_channels", [])),
        tuple(InconvenientTime.model_validate(t) for t in stored.get("inconvenient_times", [])),
    )


def _loan(row: RowMapping) -> Loan:
    return Loan(
        lender_id=row["lender_id"],
        loan_id=row["loan_id"],
        borrower_ref=row["borrower_ref"],
        jurisdiction=Jurisdiction(row["jurisdiction"]),
        product=row["product"],
        currency=row["currency"],
        amount_overdue=row["amount_overdue"],
        paid_since_report=row["paid_since_report"],
        due_date=row["due_date"],
        days_past_due=row["days_past_due"],
        as_of=row["as_of"],
        status=LoanStatus(row["status"]),
        closure_reason=ClosureReason(row["closure_reason"]) if row["closure_reason"] else None,
    )


# What a report stores: every column but created_at (its default) and closure_reason (kept);
# a stored loan takes them only from a newer report.
_SAVE_REPORTED = """
INSERT INTO loans (lender_id, loan_id, borrower_id, borrower_ref, contact_sealed, locale,
                   timezone, region, jurisdiction, product, amount_overdue, paid_since_report,
                   currency, due_date, days_past_due, as_of, status, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::numeric[],
                     $12::numeric[], $13::text[], $14::date[], $15::integer[],
                     $16::timestamptz[], $17::text[], $18::timestamptz[])
ON CONFLICT (lender_id, loan_id) DO UPDATE SET
    borrower_id = EXCLUDED.borrower_id, borrower_ref = EXCLUDED.borrower_ref,
    contact_sealed = EXCLUDED.contact_sealed, locale = EXCLUDED.locale,
    timezone = EXCLUDED.timezone, region = EXCLUDED.region,
    jurisdiction = EXCLUDED.jurisdiction, product = EXCLUDED.product,
    amount_overdue = EXCLUDED.amount_overdue, paid_since_report = EXCLUDED.paid_since_report,
    currency = EXCLUDED.currency, due_date = EXCLUDED.due_date,
    days_past_due = EXCLUDED.days_past_due, as_of = EXCLUDED.as_of, status = EXCLUDED.status,
    updated_at = EXCLUDED.updated_at
WHERE loans.as_of < EXCLUDED.as_of
"""


def _reported_row(item: ReportedLoan, now: datetime) -> tuple[Any, ...]:
    loan, borrower = item.loan, item.borrower
    sealed = borrower.at_rest()
    person = borrower.borrower
    return (
        loan.lender_id,
        loan.loan_id,
        person.id,
        loan.borrower_ref,
        orjson.dumps({"kid": sealed.kid, "ct": sealed.ct}).decode(),
        person.locale,
        person.timezone,
        person.region,
        loan.jurisdiction.value,
        loan.product,
        loan.amount_overdue,
        loan.paid_since_report,
        loan.currency,
        loan.due_date,
        loan.days_past_due,
        loan.as_of,
        loan.status.value,
        now,
    )


def _hold(row: RowMapping) -> Hold:
    return Hold(row["hold_id"], HoldReason(row["reason"]), row["placed_at"], row["lifted_at"])
