"""Promises counted per agency for the auditor's report, by the shared rule of kept and broken
(``shared.promises``), from what the log holds: the agencies' promises, the lender's payments."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shared.promises import Paid, PromiseStatus, promise_status

LoanKey = tuple[str, str]  # (lender id, loan id): loan ids are per lender


@dataclass(frozen=True)
class LoggedPromise:
    """A borrower's promise to an agency, as its ``promise-recorded`` entry holds it."""

    lender_id: str
    loan_id: str
    agency_id: str
    promise_id: str
    amount: Decimal
    currency: str
    made_at: datetime
    due: date

    @property
    def loan(self) -> LoanKey:
        return (self.lender_id, self.loan_id)


def promises_by_agency(
    promises: Iterable[LoggedPromise],
    lender_payments: Mapping[LoanKey, Sequence[Paid]],
    today: date,
) -> dict[str, Counter[PromiseStatus]]:
    """Agency id -> how many of its promises are kept, broken and pending today."""
    counted: dict[str, Counter[PromiseStatus]] = {}
    for promise in promises:
        status = promise_status(
            promise.amount,
            promise.currency,
            promise.made_at,
            promise.due,
            lender_payments.get(promise.loan, ()),
            today,
        )
        counted.setdefault(promise.agency_id, Counter())[status] += 1
    return counted
