"""Intake's rules, free of I/O: what a report, payment, hold or closure does to a loan.

Figures follow the lender: a report states what was overdue ``as_of`` its time, payments
included. A payment made after the latest report's ``as_of`` lowers what is outstanding; an
earlier one is recorded but already counted in that report.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

SUPPORTED_JURISDICTIONS = frozenset({"CN", "US"})

# A lender may compute days past due in its own time zone, so the figure may differ by one day
# from the date of ``as_of`` in the offset it was sent with.
DAYS_PAST_DUE_TOLERANCE = 1


class LoanStatus(StrEnum):
    DELINQUENT = "delinquent"
    CURED = "cured"  # nothing outstanding: collection stops
    CLOSED = "closed"  # written off, settled or closed: final


class ReportOutcome(StrEnum):
    """What a report did to the loan it is about."""

    OPENED = "opened"
    UPDATED = "updated"
    STALE = "stale"  # older than the latest known report: recorded, state unchanged


class LoanNotFoundError(LookupError):
    """No such loan for this lender (answered with 404, whoever else may have one)."""


class LoanConflictError(Exception):
    """The loan's state does not allow the change (answered with 409)."""


def days_past_due_error(due_date: date, as_of: datetime, days_past_due: int) -> str | None:
    """Why ``days_past_due`` contradicts ``due_date`` and ``as_of``, or None if it does not."""
    expected = (as_of.date() - due_date).days
    if expected < 1:
        return f"the loan is not past due on {as_of.date().isoformat()}"
    if abs(expected - days_past_due) > DAYS_PAST_DUE_TOLERANCE:
        return f"expected {expected} days from due_date to as_of, got {days_past_due}"
    return None


@dataclass(frozen=True)
class KnownLoan:
    as_of: datetime
    status: "LoanStatus"


def outcome_of(known: KnownLoan | None, report_as_of: datetime) -> ReportOutcome:
    """Raises ``LoanConflictError`` for a report about a closed loan."""
    if known is None:
        return ReportOutcome.OPENED
    if known.status is LoanStatus.CLOSED:
        raise LoanConflictError("the loan is closed; it takes no more reports")
    if report_as_of > known.as_of:
        return ReportOutcome.UPDATED
    return ReportOutcome.STALE


@dataclass(frozen=True)
class LoanState:
    status: LoanStatus
    currency: str
    amount_overdue: Decimal  # as of the latest report
    as_of: datetime
    paid_since_report: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.amount_overdue - self.paid_since_report, Decimal(0))

    def ensure_open(self) -> None:
        if self.status is LoanStatus.CLOSED:
            raise LoanConflictError("the loan is closed")

    def with_payment(self, amount: Decimal, currency: str, paid_at: datetime) -> "LoanState":
        """The state after a payment; full payment cures the loan."""
        self.ensure_open()
        if currency != self.currency:
            raise LoanConflictError(f"the loan is in {self.currency}, the payment in {currency}")
        if paid_at <= self.as_of:
            return self
        paid = self.paid_since_report + amount
        cured = paid >= self.amount_overdue
        return replace(
            self, paid_since_report=paid, status=LoanStatus.CURED if cured else self.status
        )

    def closed(self) -> "LoanState":
        self.ensure_open()
        return replace(self, status=LoanStatus.CLOSED)


def status_after_report(amount_overdue: Decimal) -> LoanStatus:
    """A newer report is the lender's whole truth: overdue again, or nothing left."""
    return LoanStatus.DELINQUENT if amount_overdue > 0 else LoanStatus.CURED
