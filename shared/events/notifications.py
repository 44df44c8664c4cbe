"""Data of the notifier's events: each reminder's and notice's life, and opt-outs."""

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from shared.events.limits import DateTime
from shared.events.models import Frozen
from shared.vocabulary import Channel


class NotificationStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class NotificationKind(StrEnum):
    REMINDER = "reminder"
    AGENCY_NOTICE = "agency_notice"  # CN-09: the borrower is told who now holds the account
    DISPUTE_OUTCOME = "dispute_outcome"  # the lender's answer to the borrower's dispute
    DEMAND_LETTER = "demand_letter"  # the formal demand of the legal stage (with a PDF)


class NotificationChanged(Frozen):
    """A notification reached ``status``; the event type names the same status."""

    notification_id: UUID
    loan_id: str
    borrower_ref: str
    kind: NotificationKind
    step: int | None = Field(description="The cadence step; none for a notice.")
    channel: Channel
    template: str
    locale: str
    policy_id: str
    policy_version: str
    pack_version: str | None = Field(description="The rule pack that cleared or suppressed it.")
    status: NotificationStatus
    at: DateTime
    due_at: DateTime
    rule_ids: list[str] = Field(default_factory=list, description="Rules that suppressed it.")
    next_allowed_at: DateTime | None = None
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    agency_id: str | None = Field(default=None, description="The agency a notice announced.")


class OptOutSource(StrEnum):
    REPLY = "reply"  # the borrower answered STOP / 退订 to a message
    PREFERENCES = "preferences"  # the lender reported it


class OptOutRecorded(Frozen):
    """The borrower may no longer be contacted on ``channel`` (by the lender or any agency)."""

    borrower_ref: str
    channel: Channel
    source: OptOutSource
    at: DateTime
    loan_ids: list[str]
