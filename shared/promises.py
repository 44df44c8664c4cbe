"""Whether a borrower's promise to pay was kept: one rule for every service that reports it.

The agency gateway shows each promise's status to the agency that recorded it; compliance
counts them per agency for auditors. Both judge from the lender's own payments (an agency's
word that it collected is not a payment), so the rule lives here, free of I/O.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True)
class Paid:
    """A payment: the lender's (what counts) or one an agency reported."""

    payment_id: str
    amount: Decimal
    currency: str
    paid_at: datetime


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


def promise_status(
    amount: Decimal,
    currency: str,
    made_at: datetime,
    due: date,
    lender_payments: Sequence[Paid],
    today: date,
) -> PromiseStatus:
    """Kept when the lender received the amount (in the promise's currency) between the day
    the promise was made and its due date, both included; broken once the due date passed
    without it; pending until then. Days are UTC days, whatever offset a time carries."""
    first_day = made_at.astimezone(UTC).date()
    paid = sum(
        (
            p.amount
            for p in lender_payments
            if p.currency == currency and first_day <= p.paid_at.astimezone(UTC).date() <= due
        ),
        Decimal(0),
    )
    if paid >= amount:
        return PromiseStatus.KEPT
    return PromiseStatus.BROKEN if today > due else PromiseStatus.PENDING
