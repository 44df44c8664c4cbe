"""Every event type: its name, schema version, topic and data model (the single source of truth).

JSON Schema and the AsyncAPI document are generated from this catalogue.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol
from uuid import UUID

from pydantic import BaseModel
from typing_extensions import TypeVar

from shared.events.assignments import (
    AgencyActivityRecorded,
    AgencyPaymentReported,
    AssignmentAcknowledged,
    AssignmentEnded,
    AssignmentPlaced,
    DisputeRaised,
    EscalationDecided,
    PromiseRecorded,
)
from shared.events.borrowers import (
    DataRequestAnswered,
    DataRequested,
    DisputeOpened,
    DisputeResolved,
)
from shared.events.compliance import ViolationFound, ViolationRetracted
from shared.events.envelope import Envelope, new_envelope
from shared.events.legal import LegalStageChanged
from shared.events.models import (
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.notifications import NotificationChanged, NotificationStatus, OptOutRecorded
from shared.events.topics import Topic

# Covariant, so an ``EventType[PaymentReceived]`` is an ``EventType[BaseModel]``; the default
# makes a bare ``EventType`` mean the latter.
M = TypeVar("M", bound=BaseModel, covariant=True, default=BaseModel)


@dataclass(frozen=True)
class EventType(Generic[M]):
    """One event type: its name and schema version on the wire, its topic and data model."""

    name: str
    version: int
    topic: Topic
    model: type[M]
    summary: str

    def envelope(
        self,
        *,
        source: str,
        subject: str,
        tenant: str,
        data: BaseModel,
        event_id: UUID | None = None,
    ) -> Envelope:
        if not isinstance(data, self.model):
            raise TypeError(f"{self.name} carries {self.model.__name__}")
        return new_envelope(
            type_name=self.name,
            schema_version=self.version,
            source=source,
            subject=subject,
            tenant=tenant,
            data=data,
            event_id=event_id,
        )

    def parse(self, envelope: Envelope) -> M:
        """The typed data of an envelope of this type; ValueError if it does not fit the schema."""
        if envelope.schemaversion != self.version:
            raise ValueError(f"{self.name} v{envelope.schemaversion} is not understood here")
        return self.model.model_validate(envelope.data)


OVERDUE_REPORTED = EventType(
    name="collections.loan.overdue-reported",
    version=1,
    topic=Topic.LOANS,
    model=OverdueReported,
    summary="A lender reported an overdue loan, or an update of one.",
)

PAYMENT_RECEIVED = EventType(
    name="collections.loan.payment-received",
    version=1,
    topic=Topic.LOANS,
    model=PaymentReceived,
    summary="A payment arrived; the loan is cured when nothing is left outstanding.",
)
HOLD_PLACED = EventType(
    name="collections.loan.hold-placed",
    version=1,
    topic=Topic.LOANS,
    model=HoldPlaced,
    summary="Collection is paused (dispute, hardship, complaint, legal review, illegal debt).",
)
HOLD_LIFTED = EventType(
    name="collections.loan.hold-lifted",
    version=1,
    topic=Topic.LOANS,
    model=HoldLifted,
    summary="A hold ended; collection may resume if no other hold is active.",
)
PLACEMENT_RECALLED = EventType(
    name="collections.loan.placement-recalled",
    version=1,
    topic=Topic.LOANS,
    model=PlacementRecalled,
    summary="The lender takes the loan back from the agency that holds it.",
)
LOAN_CLOSED = EventType(
    name="collections.loan.closed",
    version=1,
    topic=Topic.LOANS,
    model=LoanClosed,
    summary="The loan was written off, settled or closed: all collection stops for good.",
)
CONTACT_PREFERENCES_UPDATED = EventType(
    name="collections.borrower.contact-preferences-updated",
    version=1,
    topic=Topic.LOANS,
    model=ContactPreferencesUpdated,
    summary="A borrower's opt-outs, cease request, inconvenient times, attorney or consents "
    "changed. Keyed and subjected by the borrower's pseudonym, not a loan id.",
)

DISPUTE_OPENED = EventType(
    name="collections.borrower.dispute-opened",
    version=1,
    topic=Topic.LOANS,
    model=DisputeOpened,
    summary="The borrower disputed the debt on their page; the loan is held at once.",
)
DISPUTE_RESOLVED = EventType(
    name="collections.loan.dispute-resolved",
    version=1,
    topic=Topic.LOANS,
    model=DisputeResolved,
    summary="The lender upheld or rejected a dispute (the borrower's or an agency's).",
)
DATA_REQUESTED = EventType(
    name="collections.borrower.data-requested",
    version=1,
    topic=Topic.LOANS,
    model=DataRequested,
    summary="The borrower asked to see (access) or erase (deletion) their personal data; "
    "every service holding some answers.",
)
DATA_REQUEST_ANSWERED = EventType(
    name="collections.borrower.data-request-answered",
    version=1,
    topic=Topic.DATA_ANSWERS,
    model=DataRequestAnswered,
    summary="One service's answer to a data request (sealed when it holds personal data).",
)

ASSIGNMENT_PLACED = EventType(
    name="collections.assignment.placed",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=AssignmentPlaced,
    summary="A loan was entrusted to an agency (the borrower is to be told first, CN-09).",
)
ASSIGNMENT_ACKNOWLEDGED = EventType(
    name="collections.assignment.acknowledged",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=AssignmentAcknowledged,
    summary="The agency acknowledged the assignment within its lease.",
)
ASSIGNMENT_RECALLED = EventType(
    name="collections.assignment.recalled",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=AssignmentEnded,
    summary="The placement ended because the lender or a lifecycle event took the loan back.",
)
ASSIGNMENT_RETURNED = EventType(
    name="collections.assignment.returned",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=AssignmentEnded,
    summary="The agency handed the loan back.",
)
ASSIGNMENT_EXPIRED = EventType(
    name="collections.assignment.expired",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=AssignmentEnded,
    summary="The placement term ran out.",
)
AGENCY_ACTIVITY_RECORDED = EventType(
    name="collections.agency.activity-recorded",
    version=1,
    topic=Topic.AGENCY_ACTIVITIES,
    model=AgencyActivityRecorded,
    summary="An agency reported a contact attempt or a note on an assignment.",
)
PROMISE_RECORDED = EventType(
    name="collections.agency.promise-recorded",
    version=1,
    topic=Topic.AGENCY_ACTIVITIES,
    model=PromiseRecorded,
    summary="An agency recorded the borrower's promise to pay an amount by a date.",
)
AGENCY_PAYMENT_REPORTED = EventType(
    name="collections.agency.payment-reported",
    version=1,
    topic=Topic.AGENCY_ACTIVITIES,
    model=AgencyPaymentReported,
    summary="An agency reported a payment it collected (reconciled with the lender's).",
)
DISPUTE_RAISED = EventType(
    name="collections.agency.dispute-raised",
    version=1,
    topic=Topic.AGENCY_ACTIVITIES,
    model=DisputeRaised,
    summary="The borrower disputed the debt with the agency: collection is on hold.",
)
ESCALATION_DECIDED = EventType(
    name="collections.assignment.escalation-decided",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=EscalationDecided,
    summary="Legal escalation of an assignment was granted, or refused naming each unmet "
    "prerequisite.",
)

LEGAL_STAGE_CHANGED = EventType(
    name="collections.assignment.legal-stage-changed",
    version=1,
    topic=Topic.ASSIGNMENTS,
    model=LegalStageChanged,
    summary="A granted escalation moved on: demand sent, filed, judgment, settled, withdrawn.",
)

NOTIFICATION_EVENTS: dict[NotificationStatus, EventType[NotificationChanged]] = {
    status: EventType(
        name=f"collections.notification.{status.value}",
        version=1,
        topic=Topic.NOTIFICATIONS,
        model=NotificationChanged,
        summary=f"A reminder or notice became {status.value}.",
    )
    for status in NotificationStatus
}
AGENCY_NOTICE_SENT = EventType(
    name="collections.notification.agency-notice-sent",
    version=1,
    topic=Topic.NOTIFICATIONS,
    model=NotificationChanged,
    summary="The borrower was sent the notice that an agency now holds the account (CN-09).",
)
OPT_OUT_RECORDED = EventType(
    name="collections.borrower.opt-out-recorded",
    version=1,
    topic=Topic.NOTIFICATIONS,
    model=OptOutRecorded,
    summary="A borrower opted out of a channel (a STOP reply, or the lender's report). Keyed "
    "and subjected by the borrower's pseudonym.",
)

VIOLATION_FOUND = EventType(
    name="collections.compliance.violation-found",
    version=1,
    topic=Topic.COMPLIANCE,
    model=ViolationFound,
    summary="A contact broke a rule of its pack, judged after the fact from the audit log.",
)
VIOLATION_RETRACTED = EventType(
    name="collections.compliance.violation-retracted",
    version=1,
    topic=Topic.COMPLIANCE,
    model=ViolationRetracted,
    summary="A violation found earlier no longer holds: facts logged since excuse the contact.",
)

EVENT_TYPES: dict[str, EventType] = {
    event.name: event
    for event in (
        OVERDUE_REPORTED,
        PAYMENT_RECEIVED,
        HOLD_PLACED,
        HOLD_LIFTED,
        PLACEMENT_RECALLED,
        LOAN_CLOSED,
        CONTACT_PREFERENCES_UPDATED,
        DISPUTE_OPENED,
        DISPUTE_RESOLVED,
        DATA_REQUESTED,
        DATA_REQUEST_ANSWERED,
        ASSIGNMENT_PLACED,
        ASSIGNMENT_ACKNOWLEDGED,
        ASSIGNMENT_RECALLED,
        ASSIGNMENT_RETURNED,
        ASSIGNMENT_EXPIRED,
        ESCALATION_DECIDED,
        LEGAL_STAGE_CHANGED,
        AGENCY_ACTIVITY_RECORDED,
        PROMISE_RECORDED,
        AGENCY_PAYMENT_REPORTED,
        DISPUTE_RAISED,
        *NOTIFICATION_EVENTS.values(),
        AGENCY_NOTICE_SENT,
        OPT_OUT_RECORDED,
        VIOLATION_FOUND,
        VIOLATION_RETRACTED,
    )
}


class ReceivedReport(Protocol):
    """What :func:`latest_reports` needs of a consumed overdue report."""

    @property
    def envelope(self) -> Envelope: ...

    @property
    def data(self) -> OverdueReported: ...


R = TypeVar("R", bound=ReceivedReport)


def latest_reports(reports: Sequence[R]) -> list[R]:
    """The newest overdue report per (lender, loan) among ``reports``.

    Consumers upsert one row per loan per run of reports, and a run may hold several reports of
    one loan; the newest ``as_of`` wins, as it would have one at a time.
    """
    newest: dict[tuple[str, str], R] = {}
    for report in reports:
        key = (report.envelope.tenantid, report.data.loan_id)
        if key not in newest or report.data.as_of > newest[key].data.as_of:
            newest[key] = report
    return list(newest.values())
