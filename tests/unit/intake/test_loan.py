"""The loan aggregate: what each change does to a loan, and the event it decides on."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.intake.domain.loan import (
    Hold,
    Loan,
    LoanConflictError,
    LoanNotFoundError,
    LoanStatus,
    ReportOutcome,
)
from shared.events.models import ClosureReason, HoldReason
from shared.events.money import MAX_AMOUNT
from tests.support.factories import record_payment, report_as_of

SHANGHAI = timezone(timedelta(hours=8))
REPORTED = datetime(2026, 11, 28, 9, tzinfo=SHANGHAI)


def delinquent(amount: str = "1250.00") -> Loan:
    return Loan.opened_by("lender", report_as_of("L-1", REPORTED, amount), "bref_x")


def test_a_new_loan_is_delinquent_until_nothing_is_overdue() -> None:
    assert delinquent().status is LoanStatus.DELINQUENT
    assert delinquent().outstanding == Decimal("1250.00")


def test_a_newer_report_updates_and_an_older_one_is_stale() -> None:
    loan = delinquent()
    later = report_as_of("L-1", REPORTED + timedelta(days=1), "900.00")
    assert loan.take_report(later, "bref_x") is ReportOutcome.UPDATED
    assert (loan.amount_overdue, loan.as_of) == (Decimal("900.00"), later.as_of)
    older = report_as_of("L-1", REPORTED, "5000.00")
    assert loan.take_report(older, "bref_x") is ReportOutcome.STALE
    assert loan.take_report(later, "bref_x") is ReportOutcome.STALE  # the same instant
    assert loan.amount_overdue == Decimal("900.00")


def test_a_newer_report_is_the_whole_truth_payments_since_included() -> None:
    loan = delinquent()
    loan.take_payment(record_payment("L-1", "P-1", "250.00"))
    assert loan.outstanding == Decimal("1000.00")
    loan.take_report(report_as_of("L-1", REPORTED + timedelta(days=2), "1000.00"), "bref_x")
    assert (loan.paid_since_report, loan.outstanding) == (Decimal(0), Decimal("1000.00"))


def test_a_closed_loan_takes_no_more_reports_payments_holds_or_recalls() -> None:
    loan = delinquent()
    closed = loan.close(ClosureReason.SETTLED, REPORTED)
    assert (closed.reason, loan.status, loan.closure_reason) == (
        ClosureReason.SETTLED,
        LoanStatus.CLOSED,
        ClosureReason.SETTLED,
    )
    with pytest.raises(LoanConflictError):
        loan.take_report(report_as_of("L-1", REPORTED + timedelta(days=1)), "bref_x")
    with pytest.raises(LoanConflictError):
        loan.take_payment(record_payment("L-1", "P-1", "1.00"))
    with pytest.raises(LoanConflictError):
        loan.place_hold("H-1", HoldReason.DISPUTE, REPORTED)
    with pytest.raises(LoanConflictError):
        loan.recall("lender_request", REPORTED)
    with pytest.raises(LoanConflictError):
        loan.close(ClosureReason.CLOSED, REPORTED)


def test_partial_payments_lower_the_outstanding_and_the_full_one_cures() -> None:
    loan = delinquent()
    partial = loan.take_payment(record_payment("L-1", "P-1", "880.00"))
    assert (partial.cured, partial.outstanding.amount) == (False, Decimal("370.00"))
    assert loan.status is LoanStatus.DELINQUENT
    full = loan.take_payment(record_payment("L-1", "P-2", "370.00"))
    assert (full.cured, full.outstanding.amount, loan.status) == (
        True,
        Decimal("0.00"),
        LoanStatus.CURED,
    )


def test_a_payment_before_the_report_is_already_counted_in_it() -> None:
    loan = delinquent()
    before = (REPORTED - timedelta(days=1)).isoformat()
    event = loan.take_payment(record_payment("L-1", "P-1", "100.00", paid_at=before))
    assert event.outstanding.amount == loan.outstanding == Decimal("1250.00")


def test_a_payment_in_another_currency_conflicts_and_changes_nothing() -> None:
    loan = delinquent()
    before = replace(loan)
    with pytest.raises(LoanConflictError):
        loan.take_payment(record_payment("L-1", "P-1", "1.00", currency="USD"))
    assert loan == before


def test_payments_summing_to_the_largest_amount_conflict_and_change_nothing() -> None:
    largest = str(MAX_AMOUNT - 1)
    loan = delinquent(largest)
    assert loan.take_payment(record_payment("L-1", "P-1", largest)).cured
    before = replace(loan)
    with pytest.raises(LoanConflictError, match="payments since the report"):
        loan.take_payment(record_payment("L-1", "P-2", "1"))
    assert loan == before


def test_lifting_a_hold_the_loan_does_not_have_is_not_found() -> None:
    loan = delinquent()
    with pytest.raises(LoanNotFoundError):
        loan.lift_hold(None, "H-404", REPORTED)
    hold = Hold("H-1", HoldReason.HARDSHIP, REPORTED)
    assert loan.lift_hold(hold, "H-1", datetime.now(UTC)).hold_id == "H-1"
