"""The consumer's use case: every lifecycle event of a loan, placements, agencies' contacts
and disputes (a hold, as the lender's), the lender's answer to a dispute (a notice to the
borrower), the legal stage (reminders stop, the demand letter), applied to one case batch.

Each run of events is applied to one batch (the cases it touches, loaded once), in consumption
order, and written back at once with the events it produces.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.notifier.application.events import case_batch_events
from services.notifier.application.ports import (
    BorrowerKey,
    ContactDetails,
    LoanKey,
    StoredContactDetails,
    UnitOfWork,
)
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import Case
from services.notifier.domain.lifecycle import CaseBatch
from shared.contact_rules.sources import dispute_hold
from shared.events.assignments import (
    AgencyActivityRecorded,
    AssignmentEnded,
    AssignmentPlaced,
    DisputeRaised,
)
from shared.events.borrowers import DisputeResolved
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

LenderEvent = tuple[str, Any]  # (the event's lender, its data)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LifecycleHandlers:
    policies: CadencePolicies
    contact_details: ContactDetails
    clock: Callable[[], datetime] = _now

    async def apply(self, uow: UnitOfWork, events: Sequence[LenderEvent]) -> None:
        """Apply a run of events, in order, to the cases they touch; the caller commits."""
        loan_keys: set[LoanKey] = set()
        borrower_keys: set[BorrowerKey] = set()
        for lender, data in events:
            if isinstance(data, ContactPreferencesUpdated):
                borrower_keys.add((lender, data.borrower_ref))
            else:
                loan_keys.add((lender, data.loan_id))
        batch = await uow.cases.load(self.policies, self.clock(), loan_keys, borrower_keys)
        for lender, data in events:
            self._apply_one(batch, lender, data)
        await uow.cases.save(batch)
        for event in case_batch_events(batch):
            uow.publish(event)

    def _apply_one(self, batch: CaseBatch, lender: str, data: Any) -> None:
        match data:
            case OverdueReported():
                if batch.is_news(lender, data.loan_id, data.as_of):  # else: nothing to seal
                    batch.report(self._case(lender, data, batch.loans.get((lender, data.loan_id))))
            case PaymentReceived():
                batch.payment(lender, data)
            case HoldPlaced():
                batch.hold_placed(lender, data)
            case HoldLifted():
                batch.hold_lifted(lender, data)
            case PlacementRecalled():
                batch.recalled(lender, data)
            case LoanClosed():
                batch.closed(lender, data)
            case AssignmentPlaced():
                batch.placed(lender, data)
            case AssignmentEnded():
                batch.placement_ended(lender, data)
            case AgencyActivityRecorded():
                batch.activity(lender, data)
            case DisputeRaised():
                batch.hold_placed(lender, dispute_hold(data))
            case DisputeResolved():
                batch.dispute_resolved(lender, data)
            case LegalStageChanged():
                batch.legal_stage(lender, data)
            case ContactPreferencesUpdated():
                batch.preferences_updated(
                    lender, data.borrower_ref, data.preferences, data.effective_at
                )

    def _case(self, lender: str, report: OverdueReported, known: Case | None) -> Case:
        policy = self.policies.select(lender, report.product, report.jurisdiction)
        stored = None
        if known is not None and known.contact_sealed:  # kept if the contact is the same
            stored = StoredContactDetails(known.contact_sealed, known.phone_refs, known.reachable)
        details = self.contact_details.receive(lender, report.loan_id, report.borrower, stored)
        return Case.of_report(
            lender,
            report,
            (policy.id, policy.version),
            details.sealed,
            details.phone_refs,
            details.reachable,
        )
