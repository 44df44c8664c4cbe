"""What the borrower's side of intake offers (their page and the ``/v1/me`` API both call it).

A borrower is known only by the link they followed: every call takes the claims of an opened
link token, and sees the one loan (and the one borrower) the token names.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from shared.borrower_links import LinkClaims
from shared.events.borrowers import DataAnswer, DataRequestKind, DisputeReason
from shared.events.models import ContactPreferences, InconvenientTime
from shared.events.money import Money
from shared.vocabulary import Channel


class LinkRefusedError(Exception):
    """The link opens nothing: unknown or tampered (``gone`` False: a 404), or expired or
    revoked (``gone`` True: a 410). The page says the same neutral words for both."""

    def __init__(self, *, gone: bool) -> None:
        super().__init__("gone" if gone else "unknown")
        self.gone = gone


class LoanEndedError(Exception):
    """The loan is closed: a dispute or a preference change has nothing left to act on."""


@dataclass(frozen=True)
class Holder:
    """The agency that holds the account now (CN-09: the borrower is told who it is)."""

    agency_id: str
    name: str
    phone: str | None


@dataclass(frozen=True)
class NoticeSent:
    at: datetime
    channel: Channel
    kind: str  # reminder, agency_notice, dispute_outcome


@dataclass(frozen=True)
class DisputeView:
    dispute_id: str
    reason: DisputeReason
    status: str  # open, upheld, rejected
    source: str  # borrower, agency
    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class DataRequestView:
    request_id: str
    kind: DataRequestKind
    status: str  # pending, ready, erased (a later deletion erased the copy of its answers)
    requested_at: datetime
    due_by: datetime
    answers: list[DataAnswer] = field(default_factory=list)  # ready: intake's and each service's


@dataclass(frozen=True)
class BorrowerView:
    lender_id: str
    lender_name: str
    loan_id: str
    locale: str
    amount_overdue: Money
    overdue_since: date
    days_past_due: int
    status: str  # the loan's status at intake: overdue, on_hold, cured, closed ...
    held_by: Holder | None
    preferences: ContactPreferences
    disputes: list[DisputeView]
    notices: list[NoticeSent]
    data_requests: list[DataRequestView]


class BorrowerDesk(Protocol):
    async def open_link(self, token: str) -> LinkClaims:
        """The claims of a link token still good for its loan; LinkRefusedError if not."""
        ...

    async def view(self, claims: LinkClaims) -> BorrowerView: ...

    async def open_dispute(
        self, claims: LinkClaims, reason: DisputeReason, details: str
    ) -> DisputeView:
        """Files the dispute and holds the loan in the same transaction (LoanEndedError)."""
        ...

    async def set_preferences(
        self,
        claims: LinkClaims,
        opted_out_channels: list[Channel],
        inconvenient_times: list[InconvenientTime],
    ) -> ContactPreferences:
        """Replaces the borrower's own opt-outs and inconvenient times (keeps the rest the
        lender reported: consents, attorney, cease)."""
        ...

    async def unsubscribe_email(self, claims: LinkClaims) -> None:
        """RFC 8058 one-click: an opt-out of e-mail at this lender."""
        ...

    async def request_data(self, claims: LinkClaims, kind: DataRequestKind) -> DataRequestView: ...

    async def data_request(self, claims: LinkClaims, request_id: str) -> DataRequestView | None:
        """The request if it is this borrower's (None otherwise, even if it exists)."""
        ...
