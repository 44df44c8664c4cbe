"""Intake's rules, free of I/O: which jurisdictions it serves, when a report is consistent,
and how a report changes what is known of a loan."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

SUPPORTED_JURISDICTIONS = frozenset({"CN", "US"})

# A lender may compute days past due in its own time zone, so the figure may differ by one day
# from the date of ``as_of`` in the offset it was sent with.
DAYS_PAST_DUE_TOLERANCE = 1


class LoanStatus(StrEnum):
    DELINQUENT = "delinquent"


class ReportOutcome(StrEnum):
    """What a report did to the loan it is about."""

    OPENED = "opened"
    UPDATED = "updated"
    STALE = "stale"  # older than the latest known report: recorded, state unchanged


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


def outcome_of(known: KnownLoan | None, report_as_of: datetime) -> ReportOutcome:
    if known is None:
        return ReportOutcome.OPENED
    if report_as_of > known.as_of:
        return ReportOutcome.UPDATED
    return ReportOutcome.STALE
