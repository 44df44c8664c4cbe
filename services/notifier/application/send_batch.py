"""What one batch of the sender decided and did, to be recorded together."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.notifier.application.events import notification_event
from services.notifier.application.ports import LoanKey, OutgoingMessage, SendReceipt, SendResults
from services.notifier.domain.files import Case, Notification, Transition
from services.notifier.domain.outreach import intended_contact
from shared.contact_rules import Contact
from shared.events.envelope import Envelope
from shared.events.notifications import NotificationKind, NotificationStatus


@dataclass
class SendBatch:
    now: datetime
    token: UUID
    settled: list[Notification] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    went_out: set[UUID] = field(default_factory=set)
    in_doubt: dict[UUID, datetime] = field(default_factory=dict)
    sent: list[tuple[Contact, LoanKey]] = field(default_factory=list)
    notices: list[tuple[LoanKey, str, datetime]] = field(default_factory=list)
    to_send: list[tuple[Notification, Case, OutgoingMessage]] = field(default_factory=list)

    def move(self, n: Notification, status: NotificationStatus, **detail: object) -> None:
        self.transitions.append(n.move(status, self.now, **detail))

    def fail(self, n: Notification, reason: str) -> None:
        n.reason = reason
        self.move(n, NotificationStatus.FAILED, reason=reason)

    def went(self, n: Notification, case: Case, receipt: SendReceipt, why: str | None) -> None:
        """``n`` went out: sent, in the ledger, and a notice marks its placement told."""
        n.provider, n.provider_message_id = receipt.provider, receipt.provider_message_id or None
        n.reason = why
        self.move(
            n,
            NotificationStatus.SENT,
            provider=receipt.provider,
            provider_message_id=n.provider_message_id,
            reason=why,
        )
        self.went_out.add(n.id)
        self.sent.append((intended_contact(n, case, receipt.accepted_at), case.key))
        if n.kind is NotificationKind.AGENCY_NOTICE and n.assignment_id:
            self.notices.append((case.key, n.assignment_id, receipt.accepted_at))

    def results(self) -> SendResults:
        return SendResults(
            self.token,
            self.settled,
            self.transitions,
            self.went_out,
            self.in_doubt,
            self.sent,
            self.notices,
        )

    def events(self, written: set[UUID]) -> list[Envelope]:
        settled = {n.id: n for n in self.settled}
        return [
            notification_event(settled[t.notification_id], t.status, t.at, t.detail)
            for t in self.transitions
            if t.notification_id in written
        ]
