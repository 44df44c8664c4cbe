"""Notifier's consumer: every lifecycle event of a loan, placements, agencies' contacts and
disputes (a hold, as the lender's).

Each run of events is applied to one casebook (the loans it touches, loaded once), in
consumption order, and written back at once with the events it produces.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.notifier.adapters.casebook_store import CasebookStore
from services.notifier.adapters.contacts import ContactVault
from services.notifier.domain.files import LoanFile
from services.notifier.domain.lifecycle import Casebook
from services.notifier.domain.policy_book import PolicyBook
from shared.contact_rules.sources import dispute_hold
from shared.db.unit_of_work import UnitOfWork, enqueue
from shared.events.assignments import (
    AgencyActivityRecorded,
    AssignmentEnded,
    AssignmentPlaced,
    DisputeRaised,
)
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    ASSIGNMENT_EXPIRED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    CONTACT_PREFERENCES_UPDATED,
    DISPUTE_RAISED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
)
from shared.events.models import (
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.kafka.handlers import EventHandlers, Received

GROUP = "notifier"
LOAN_EVENTS = (
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    HOLD_PLACED,
    HOLD_LIFTED,
    PLACEMENT_RECALLED,
    LOAN_CLOSED,
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RECALLED,
    ASSIGNMENT_RETURNED,
    ASSIGNMENT_EXPIRED,
    AGENCY_ACTIVITY_RECORDED,
    DISPUTE_RAISED,
)


@dataclass(frozen=True)
class LifecycleConsumer:
    policies: PolicyBook
    vault: ContactVault
    notifications_topic: str

    def handlers(self) -> EventHandlers:
        handlers = EventHandlers()
        for event_type in LOAN_EVENTS:
            handlers.on(event_type, self.apply)
        handlers.on(CONTACT_PREFERENCES_UPDATED, self.apply)
        return handlers

    async def apply(self, uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        session = uow.session
        loan_keys, borrower_keys = set(), set()
        for event in events:
            lender = event.envelope.tenantid
            if isinstance(event.data, ContactPreferencesUpdated):
                borrower_keys.add((lender, event.data.borrower_ref))
            else:
                loan_keys.add((lender, event.data.loan_id))
        store = CasebookStore(session)
        book = await store.load(self.policies, datetime.now(UTC), loan_keys, borrower_keys)
        for event in events:
            self._apply_one(book, event.envelope.tenantid, event.data)
        envelopes = await store.save(book)
        await enqueue(session, self.notifications_topic, envelopes)

    def _apply_one(self, book: Casebook, lender: str, data: Any) -> None:
        match data:
            case OverdueReported():
                book.report(self._file(lender, data))
            case PaymentReceived():
                book.payment(lender, data)
            case HoldPlaced():
                book.hold_placed(lender, data)
            case HoldLifted():
                book.hold_lifted(lender, data)
            case PlacementRecalled():
                book.recalled(lender, data)
            case LoanClosed():
                book.closed(lender, data)
            case AssignmentPlaced():
                book.placed(lender, data)
            case AssignmentEnded():
                book.placement_ended(lender, data)
            case AgencyActivityRecorded():
                book.activity(lender, data)
            case DisputeRaised():
                book.hold_placed(lender, dispute_hold(data))
            case ContactPreferencesUpdated():
                book.preferences_updated(
                    lender, data.borrower_ref, data.preferences, data.effective_at
                )

    def _file(self, lender: str, report: OverdueReported) -> LoanFile:
        policy = self.policies.select(lender, report.product, report.jurisdiction)
        contact = self.vault.receive(lender, report.loan_id, report.borrower)
        return LoanFile.of_report(
            lender,
            report,
            (policy.id, policy.version),
            contact.sealed,
            contact.phone_refs,
            contact.reachable,
        )
