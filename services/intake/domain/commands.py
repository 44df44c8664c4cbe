"""What a lender asks intake to do: plain values, mapped from the HTTP schemas by the API layer.

Each command is handled by the function of the same name in ``application/handlers.py``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from shared.events.borrowers import DisputeOutcome
from shared.events.models import ClosureReason, ContactPreferences, HoldReason
from shared.events.money import Money
from shared.vocabulary import Jurisdiction


@dataclass(frozen=True, slots=True)
class Borrower:
    """The borrower as the lender reports them; name, phone and e-mail are personal data."""

    id: str
    name: str
    phone: str | None
    email: str | None
    locale: str
    timezone: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class OverdueReport:
    """A loan past due, as the lender's figures stood ``as_of``."""

    loan_id: str
    borrower: Borrower
    jurisdiction: Jurisdiction
    product: str
    amount_overdue: Money
    due_date: date
    days_past_due: int
    as_of: datetime


@dataclass(frozen=True, slots=True)
class ReportOverdueLoans:
    """One report or a batch of them; each stands or falls on its own."""

    reports: tuple[OverdueReport, ...]


@dataclass(frozen=True, slots=True)
class RecordPayment:
    loan_id: str
    payment_id: str
    amount: Money
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class PlaceHold:
    loan_id: str
    reason: HoldReason
    hold_id: str | None = None  # one is made when the lender gives none


@dataclass(frozen=True, slots=True)
class LiftHold:
    loan_id: str
    hold_id: str


@dataclass(frozen=True, slots=True)
class RecallPlacement:
    loan_id: str
    reason: str
    recalled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CloseLoan:
    loan_id: str
    reason: ClosureReason
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpdateContactPreferences:
    borrower_id: str
    preferences: ContactPreferences = field(default_factory=ContactPreferences)
    effective_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResolveDispute:
    """The lender's answer to a dispute (the borrower's or an agency's)."""

    loan_id: str
    dispute_id: str
    outcome: DisputeOutcome
    note: str | None = None
    corrected_amount: Money | None = None  # upheld only: what is overdue now


@dataclass(frozen=True, slots=True)
class RevokeBorrowerLinks:
    """Every borrower link of the loan issued before now opens nothing any more."""

    loan_id: str


Command = (
    ReportOverdueLoans
    | RecordPayment
    | PlaceHold
    | LiftHold
    | RecallPlacement
    | CloseLoan
    | UpdateContactPreferences
    | ResolveDispute
    | RevokeBorrowerLinks
)
