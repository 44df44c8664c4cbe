"""The contact ledger the gateway checks agencies' contacts against: every agency's reported
activities and the lender's own messages (the notifier's sent and delivered events)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import contacts
from shared.contact_rules import Contact, Direction, Outcome, Party
from shared.vocabulary import Channel


def debt_id(lender_id: str, loan_id: str) -> str:
    return f"{lender_id}/{loan_id}"


class ContactLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add contacts; one known already takes the furthest outcome reported (delivered)."""
        if not rows:
            return
        statement = pg_insert(contacts).values(list(rows))
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
            Contact(
                id=r.contact_id,
                debt_id=debt_id(r.lender_id, r.loan_id),
                person_ref=person_ref,
                party=Party.agency(r.agency_id) if r.agency_id else Party.lender(),
                channel=Channel(r.channel),
                at=r.at,
                direction=Direction(r.direction),
                outcome=Outcome(r.outcome),
            )
            for r in rows
        ]
