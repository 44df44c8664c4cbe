"""Promises counted per agency for the auditor's report: each judged on its own loan's
payments (loan ids are per lender)."""

from datetime import UTC, date, datetime
from decimal import Decimal

from services.compliance.domain.promises import LoggedPromise, promises_by_agency
from shared.promises import Paid, PromiseStatus

MADE = datetime(2026, 11, 1, tzinfo=UTC)
TODAY = date(2026, 11, 15)


def promise(agency: str, lender: str, promise_id: str, due: date) -> LoggedPromise:
    return LoggedPromise(lender, "L-1", agency, promise_id, Decimal("50.00"), "CNY", MADE, due)


def test_each_agency_gets_its_promises_by_status_judged_on_their_own_lenders_payments() -> None:
    paid = Paid("P-1", Decimal("50.00"), "CNY", datetime(2026, 11, 5, tzinfo=UTC))
    counted = promises_by_agency(
        [
            promise("agency-a", "lender-1", "PR-1", date(2026, 11, 10)),  # paid on the 5th
            promise("agency-a", "lender-2", "PR-2", date(2026, 11, 10)),  # the same loan id
            promise("agency-a", "lender-2", "PR-3", date(2026, 11, 20)),
            promise("agency-b", "lender-1", "PR-4", date(2026, 11, 20)),
        ],
        {("lender-1", "L-1"): [paid]},
        TODAY,
    )
    assert counted == {
        "agency-a": {PromiseStatus.KEPT: 1, PromiseStatus.BROKEN: 1, PromiseStatus.PENDING: 1},
        "agency-b": {PromiseStatus.KEPT: 1},
    }
