"""The loan aggregate: what a report, payment, hold, recall or closure does to a loan, and the
event that says so.

Figures follow the lender: a report states what was overdue ``as_of`` its time, payments
included. A payment made after the latest report's ``as_of`` lowers what is outstanding; an
earlier one is recorded but already counted in that report. Methods decide before they change
anything: one that refuses (``LoanConflictError``) leaves the loan as it was.
"""

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.intake.domain.commands import OverdueReport, RecordPayment
from shared.events.models import (
    BorrowerProfile,
    ClosureReason,
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.money import MAX_AMOUNT, Money
from shared.vocabulary import Jurisdiction

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
    """No such loan (or hold) for this lender (answered with 404, whoever else may have one)."""


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


def status_after_report(amount_overdue: Decimal) -> LoanStatus:
    """A newer report is the lender's whole truth: overdue again, or nothing left."""
    return LoanStatus.DELINQUENT if amount_overdue > 0 else LoanStatus.CURED


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    reason: HoldReason
    placed_at: datetime
    lifted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


@dataclass(slots=True)
class Loan:
    """One lender's loan as intake knows it: the latest report's figures and what followed."""

    lender_id: str
    loan_id: str
    borrower_ref: str
    jurisdiction: Jurisdiction
    product: str
    currency: str
    amount_overdue: Decimal  # as of the latest report
    paid_since_report: Decimal
    due_date: date
    days_past_due: int
    as_of: datetime
    status: LoanStatus
    closure_reason: ClosureReason | None = None

    @classmethod
    def opened_by(cls, lender_id: str, report: OverdueReport, borrower_ref: str) -> "Loan":
        return cls(
            lender_id=lender_id,
            loan_id=report.loan_id,
            borrower_ref=borrower_ref,
            jurisdiction=report.jurisdiction,
            product=report.product,
            currency=report.amount_overdue.currency,
            amount_overdue=report.amount_overdue.amount,
            paid_since_report=Decimal(0),
            due_date=report.due_date,
            days_past_due=report.days_past_due,
            as_of=report.as_of,
            status=status_after_report(report.amount_overdue.amount),
        )

    @property
    def outstanding(self) -> Decimal:
        return max(self.amount_overdue - self.paid_since_report, Decimal(0))

    def money(self, amount: Decimal) -> Money:
        return Money.in_minor_units(amount, self.currency)

    def take_report(self, report: OverdueReport, borrower_ref: str) -> ReportOutcome:
        """A newer report replaces the figures; an older one (or the same instant) is stale."""
        if self.status is LoanStatus.CLOSED:
            raise LoanConflictError("the loan is closed; it takes no more reports")
        if report.as_of <= self.as_of:
            return ReportOutcome.STALE
        # A newer report is the lender's whole truth: its figures replace all of ours.
        newer = Loan.opened_by(self.lender_id, report, borrower_ref)
        for field in fields(self):
            setattr(self, field.name, getattr(newer, field.name))
        return ReportOutcome.UPDATED

    def take_payment(self, payment: RecordPayment) -> PaymentReceived:
        """Full payment of what is outstanding cures the loan."""
        self._ensure_open()
        if payment.amount.currency != self.currency:
            raise LoanConflictError(
                f"the loan is in {self.currency}, the payment in {payment.amount.currency}"
            )
        if payment.paid_at > self.as_of:
            paid = self.paid_since_report + payment.amount.amount
            if paid >= MAX_AMOUNT:
                raise LoanConflictError(
                    f"the payments since the report would sum to {MAX_AMOUNT:,} or more, "
                    "more than any amount can be; report the loan's figures anew"
                )
            self.paid_since_report = paid
            if self.paid_since_report >= self.amount_overdue:
                self.status = LoanStatus.CURED
        return PaymentReceived(
            loan_id=self.loan_id,
            payment_id=payment.payment_id,
            amount=payment.amount,
            paid_at=payment.paid_at,
            outstanding=self.money(self.outstanding),
            cured=self.status is LoanStatus.CURED,
        )

    def place_hold(self, hold_id: str, reason: HoldReason, at: datetime) -> HoldPlaced:
        self._ensure_open()
        return HoldPlaced(loan_id=self.loan_id, hold_id=hold_id, reason=reason, placed_at=at)

    def lift_hold(self, hold: Hold | None, hold_id: str, at: datetime) -> HoldLifted:
        if hold is None:
            raise LoanNotFoundError(f"no hold {hold_id!r} on loan {self.loan_id!r}")
        return HoldLifted(loan_id=self.loan_id, hold_id=hold_id, lifted_at=at)

    def recall(self, reason: str, at: datetime) -> PlacementRecalled:
        self._ensure_open()
        return PlacementRecalled(loan_id=self.loan_id, reason=reason, recalled_at=at)

    def close(self, reason: ClosureReason, at: datetime) -> LoanClosed:
        self._ensure_open()
        self.status = LoanStatus.CLOSED
        self.closure_reason = reason
        return LoanClosed(loan_id=self.loan_id, reason=reason, closed_at=at)

    def correct(self, amount: Money, at: datetime) -> None:
        """An upheld dispute corrected the debt: ``amount`` is what is overdue as of ``at``."""
        self._ensure_open()
        if amount.currency != self.currency:
            raise LoanConflictError(
                f"the loan is in {self.currency}, the corrected amount in {amount.currency}"
            )
        self.amount_overdue = amount.amount
        self.paid_since_report = Decimal(0)
        self.as_of = at
        self.days_past_due = max((at.date() - self.due_date).days, 1)
        self.status = status_after_report(amount.amount)

    def _ensure_open(self) -> None:
        if self.status is LoanStatus.CLOSED:
            raise LoanConflictError("the loan is closed")


def overdue_reported(report: OverdueReport, borrower: BorrowerProfile) -> OverdueReported:
    """The event of a report; the borrower as a pseudonym and sealed contact details."""
    return OverdueReported(
        loan_id=report.loan_id,
        borrower=borrower,
        jurisdiction=report.jurisdiction,
        product=report.product,
        amount_overdue=report.amount_overdue,
        due_date=report.due_date,
        days_past_due=report.days_past_due,
        as_of=report.as_of,
    )
