"""Disputes of a debt, the borrower's own choices of contact, and what a data request leaves.

A dispute is filed by the borrower on their page or reported by the agency holding the
account; either holds the loan until the lender resolves it once (upheld or rejected).
"""

from dataclasses import dataclass, replace
from datetime import datetime

from services.intake.domain.loan import LoanConflictError, LoanNotFoundError, LoanStatus
from shared.events.borrowers import DisputeOutcome, DisputeReason, DisputeSource
from shared.events.limits import storable_note
from shared.events.models import ContactPreferences, InconvenientTime
from shared.events.money import Money
from shared.vocabulary import Channel

BORROWER_HOLD_PREFIX = "dispute:"
MAX_DETAILS = 2000  # characters of a dispute's free text (the borrower's or the lender's note)
ENDED = frozenset({LoanStatus.CLOSED, LoanStatus.CURED})  # and a recalled loan (its history)


class DisputeNotFoundError(LoanNotFoundError):
    """No such dispute on this lender's loan (a 404)."""


class DisputeSettledError(LoanConflictError):
    """The dispute was resolved already (a 409)."""


@dataclass(frozen=True, slots=True)
class Dispute:
    lender_id: str
    dispute_id: str
    loan_id: str
    source: DisputeSource
    reason: DisputeReason
    hold_id: str
    opened_at: datetime
    status: str = "open"  # open, upheld, rejected
    resolved_at: datetime | None = None
    corrected_amount: Money | None = None

    @classmethod
    def by_borrower(
        cls, lender_id: str, dispute_id: str, loan_id: str, reason: DisputeReason, at: datetime
    ) -> "Dispute":
        return cls(
            lender_id,
            dispute_id,
            loan_id,
            DisputeSource.BORROWER,
            reason,
            f"{BORROWER_HOLD_PREFIX}{dispute_id}",
            at,
        )

    @property
    def outcome(self) -> DisputeOutcome | None:
        return None if self.status == "open" else DisputeOutcome(self.status)

    def resolve(
        self, outcome: DisputeOutcome, at: datetime, corrected: Money | None = None
    ) -> "Dispute":
        """The dispute resolved; a dispute is resolved once, and only an upheld one corrects."""
        if self.status != "open":
            raise DisputeSettledError(f"dispute {self.dispute_id!r} was {self.status} already")
        if corrected is not None and outcome is not DisputeOutcome.UPHELD:
            raise LoanConflictError("only an upheld dispute corrects the amount overdue")
        return replace(self, status=outcome.value, resolved_at=at, corrected_amount=corrected)


def checked_details(text: str) -> str:
    """A dispute's free text as stored (NFC); ValueError naming ``details`` if it cannot be:
    too long, control characters other than tabs and line breaks, bidirectional overrides."""
    if len(text) > MAX_DETAILS:
        raise ValueError(f"details: at most {MAX_DETAILS} characters")
    try:
        return storable_note(text)
    except ValueError as error:
        raise ValueError(f"details: {error}") from None


@dataclass(frozen=True, slots=True)
class BorrowerChoices:
    """What the borrower chose on their own page (kept apart from what the lender reported)."""

    opted_out_channels: tuple[Channel, ...] = ()
    inconvenient_times: tuple[InconvenientTime, ...] = ()


def effective_preferences(
    reported: ContactPreferences, choices: BorrowerChoices
) -> ContactPreferences:
    """The lender's report with the borrower's own opt-outs and inconvenient times added: a
    borrower never undoes an opt-out the lender recorded, and the lender never undoes theirs."""
    channels = list(dict.fromkeys([*reported.opted_out_channels, *choices.opted_out_channels]))
    times = list(reported.inconvenient_times)
    times += [time for time in choices.inconvenient_times if time not in times]
    return reported.model_copy(update={"opted_out_channels": channels, "inconvenient_times": times})
