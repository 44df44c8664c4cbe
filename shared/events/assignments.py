"""Data of the agency gateway's events: placements with agencies and what agencies do.

The notifier reacts to them (the CN-09 notice, caps that count every party) and compliance
records them; the gateway is their only publisher.
"""

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.events.limits import DateTime
from shared.events.models import Frozen
from shared.events.money import Money


class AssignmentPlaced(Frozen):
    """A loan was entrusted to an agency; the borrower must be told before it contacts them."""

    assignment_id: str
    loan_id: str
    borrower_ref: str
    agency_id: str
    agency_name: str = Field(description="The agency's trading name, as the borrower is told.")
    agency_phone: str | None = Field(
        default=None, description="The agency's public service number (business data)."
    )
    placed_at: DateTime
    expires_at: DateTime | None = None
    policy_version: str
    reason: str
    arm: str | None = Field(
        default=None, description="champion or challenger: the policy variant that placed it"
    )


class AssignmentAcknowledged(Frozen):
    """The agency confirmed it took the assignment (within its lease)."""

    assignment_id: str
    loan_id: str
    agency_id: str
    acknowledged_at: DateTime


class AssignmentEnded(Frozen):
    """The agency no longer holds the loan (recalled, returned or expired)."""

    assignment_id: str
    loan_id: str
    borrower_ref: str
    agency_id: str
    ended_at: DateTime
    reason: str
    policy_version: str | None = Field(
        default=None, description="The placement policy that decided it (none: the agency did)."
    )


class ActivityType(StrEnum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VISIT = "visit"
    NOTE = "note"


class ActivityDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class ActivityOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    ANSWERED = "answered"
    CONVERSATION = "conversation"
    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"


class AgencyActivityRecorded(Frozen):
    """One contact attempt or note an agency reported on an assignment; its free text is not
    published (personal data the append-only audit log could never erase)."""

    activity_id: str
    assignment_id: str
    loan_id: str
    borrower_ref: str
    agency_id: str
    type: ActivityType
    direction: ActivityDirection
    outcome: ActivityOutcome
    at: datetime
    recording_id: str | None = None
    staff_count: int | None = None
    text_hmac: str | None = Field(
        default=None,
        description="'<key id>:<hex>': HMAC-SHA256 of the agency's text under a key only the "
        "gateway holds. The text itself stays sealed in the gateway (erasable); this ties the "
        "record to it without carrying it.",
    )
    banned_phrases: list[str] = Field(
        default_factory=list,
        description="The phrases of any pack's banned wording (CN-06) the gateway found in the "
        "text: what the text is judged by once published.",
    )


class PromiseRecorded(Frozen):
    """The borrower promised the agency to pay ``amount`` by ``due_date``."""

    promise_id: str
    assignment_id: str
    loan_id: str
    agency_id: str
    amount: Money
    due_date: date
    recorded_at: DateTime


class AgencyPaymentReported(Frozen):
    """A payment the agency says it collected; the lender's own record is what counts, and
    the gateway reconciles the two."""

    payment_id: str
    assignment_id: str
    loan_id: str
    agency_id: str
    amount: Money
    paid_at: DateTime
    recorded_at: DateTime


class DisputeRaised(Frozen):
    """The borrower disputed the debt with the agency: collection is on hold until the lender
    answers (the lender's systems see this event)."""

    dispute_id: str
    assignment_id: str
    loan_id: str
    borrower_ref: str
    agency_id: str
    reason: str
    raised_at: DateTime


class UnmetPrerequisite(Frozen):
    prerequisite: str
    explanation: str


class EscalationDecided(Frozen):
    """Legal escalation was requested for an assignment; granted only if every prerequisite
    held, else each unmet one is named."""

    escalation_id: str
    assignment_id: str
    loan_id: str
    agency_id: str
    requested_by: str = Field(description="agency or lender")
    granted: bool
    unmet: list[UnmetPrerequisite]
    policy_version: str
    decided_at: DateTime
