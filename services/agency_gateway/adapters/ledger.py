"""The contact ledger the gateway checks agencies' contacts against: every agency's reported
activities and the lender's own messages (the notifier's sent and delivered events).

The contacts and their rows are ``shared.contact_rules.sources``'; this is only their table."""

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import contacts
from shared.contact_rules import Contact, Outcome
from shared.contact_rules.sources import contact_of_row, ledger_row

LoanKey = tuple[str, str]
COLUMNS = ("lender_id", "loan_id", "borrower_ref", "agency_id", "channel", "direction")


class ContactLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, made: Sequence[tuple[Contact, LoanKey]]) -> None:
        """Add contacts, each with its (lender, loan); one known already takes the furthest
        outcome reported (delivered)."""
        if not made:
            return
        rows = []
        for contact, (lender_id, loan_id) in made:
            row = ledger_row(contact, lender_id, loan_id)
            rows.append(
                {"contact_id": row["id"], "outcome": row["outcome"], "at": row["at"]}
                | {name: row[name] for name in COLUMNS}
            )
        statement = pg_insert(contacts).values(rows)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[contacts.c.contact_id],
                set_={"outcome": statement.excluded.outcome},
                where=statement.excluded.outcome != Outcome.ATTEMPTED.value,
            )
        )

    async def of_loan(self, lender_id: str, loan_id: str, person_ref: str) -> list[Contact]:
        """Every party's contacts about the loan, as contacts with its borrower."""
        rows = await self._session.execute(
            select(contacts)
            .where(contacts.c.lender_id == lender_id, contacts.c.loan_id == loan_id)
            .order_by(contacts.c.at)
        )
        return [
            replace(contact_of_row({"id": r.contact_id, **r._mapping}), person_ref=person_ref)
            for r in rows
        ]
