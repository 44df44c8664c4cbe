"""The consumer's use cases: the loan lifecycle from intake, and the notifier's sends.

Reports open or update cases; payments, holds, recalls and closures change a case's status
and recall the agency that holds it, in the same unit of work as the recall's event; the
notifier's agency notice lets the agency see the borrower (CN-09); its sends feed the contact
ledger that agencies' contacts are checked against, and the borrower's STOP replies it records
are kept per borrower and channel for the same check.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from services.agency_gateway.application.ending import end_assignment
from services.agency_gateway.application.placement import PlacementHandlers
from services.agency_gateway.application.ports import (
    Clock,
    ContactSealing,
    LoanKey,
    Received,
    Row,
    UnitOfWork,
    utc_now,
)
from services.agency_gateway.domain.cases import apply_event, case_of_report
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.contact_rules import Contact, Outcome
from shared.contact_rules.limits import replied_opt_out
from shared.contact_rules.sources import notification_contact
from shared.events.catalog import latest_reports
from shared.events.envelope import Envelope
from shared.events.models import ContactPreferencesUpdated, OverdueReported, PaymentReceived
from shared.events.notifications import NotificationChanged, OptOutRecorded

# What lifecycle events change of a case, with its key: written once per batch.
LIFECYCLE_COLUMNS = (
    "lender_id",
    "loan_id",
    "holds",
    "ended_reason",
    "lender_recalled_at",
    "amount_overdue",
    "ended_at",
)


@dataclass(frozen=True)
class LifecycleHandlers:
    policy: PlacementPolicy
    contacts: ContactSealing
    clock: Clock = field(default=utc_now)
    # Given, fresh reports are decided in the consumer's unit of work (each case written once)
    # instead of being left due for the placement worker.
    placement: PlacementHandlers | None = None

    async def reports(self, uow: UnitOfWork, events: Sequence[Received[OverdueReported]]) -> None:
        """Each loan's latest report opens or updates its case, due for a placement decision
        (decided here, in the same unit of work, when the handlers have the ``placement``).
        A report whose contact does not open raises (it is dead-lettered: after a transit key
        rotation, replay it once the gateway holds the new key)."""
        now = self.clock()
        rows = []
        for event in latest_reports(events):
            report = event.data
            case = case_of_report(event.envelope.tenantid, report)
            rows.append(
                {
                    **case,
                    "contact_sealed": self.contacts.stored(report.borrower.contact, case),
                    "contact_erased_at": None,  # a report brings erased details back
                    "status": self.policy.status_for(report.days_past_due).value,
                    "updated_at": now,
                    "placement_due_at": now,
                }
            )
        if self.placement is None:
            await uow.cases.upsert(rows)
        else:
            await self.placement.decide_reports(uow, rows, now)

    async def lifecycle(self, uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        """Payments, holds, recalls and closures: the case changes and is due again; one the
        event takes back from its agency ends that assignment (``recalled``)."""
        keys = {(e.envelope.tenantid, e.data.loan_id) for e in events}
        cases = await uow.cases.for_update(keys)
        active = await uow.assignments.active(keys)
        envelopes: list[Envelope] = []
        payments: list[Row] = []
        changed: set[LoanKey] = set()
        now = self.clock()
        for event in events:
            key = (event.envelope.tenantid, event.data.loan_id)
            case = cases.get(key)
            if case is None:
                continue
            recall = apply_event(case, event.data)
            changed.add(key)
            if isinstance(event.data, PaymentReceived):
                payments.append(
                    {
                        "lender_id": key[0],
                        "loan_id": key[1],
                        "payment_id": event.data.payment_id,
                        "amount": event.data.amount.amount,
                        "currency": event.data.amount.currency,
                        "paid_at": event.data.paid_at,
                    }
                )
            assignment = active.get(key)
            if recall is not None and assignment is not None:
                envelopes.append(
                    await end_assignment(
                        uow,
                        assignment,
                        case["borrower_ref"],
                        "recalled",
                        recall,
                        now,
                        self.policy.version,
                    )
                )
                del active[key]
        await uow.cases.change_each(
            [
                {name: cases[key][name] for name in LIFECYCLE_COLUMNS}
                | {"placement_due_at": now, "updated_at": now}
                for key in sorted(changed)
            ]
        )
        await uow.commitments.record_lender_payments(payments)
        for envelope in envelopes:
            uow.publish(envelope)
        await uow.deliveries.owe_for(envelopes, now)

    async def preferences(
        self, uow: UnitOfWork, events: Sequence[Received[ContactPreferencesUpdated]]
    ) -> None:
        """The borrower's latest wishes; each of their cases is due for a new decision."""
        now = self.clock()
        for event in events:
            lender, data = event.envelope.tenantid, event.data
            await uow.preferences.upsert(
                {
                    "lender_id": lender,
                    "borrower_ref": data.borrower_ref,
                    "cease": data.preferences.cease_communication,
                    "attorney": data.preferences.attorney_represented,
                    "preferences": data.preferences.model_dump(mode="json"),
                    "as_of": data.effective_at,
                }
            )
            await uow.cases.borrowers_due_now(lender, data.borrower_ref, now)

    async def opt_outs(self, uow: UnitOfWork, events: Sequence[Received[OptOutRecorded]]) -> None:
        """The borrower's STOP replies, per borrower and channel (the earliest stays); an
        opt-out the lender reported comes with its preferences instead."""
        rows: dict[tuple[str, str, str], Row] = {}
        for event in events:
            opt_out = replied_opt_out(event.data)
            if opt_out is None:
                continue
            key = (event.envelope.tenantid, event.data.borrower_ref, opt_out.channel.value)
            if key not in rows or opt_out.at < rows[key]["at"]:
                lender_id, borrower_ref, channel = key
                rows[key] = {
                    "lender_id": lender_id,
                    "borrower_ref": borrower_ref,
                    "channel": channel,
                    "at": opt_out.at,
                }
        await uow.opt_outs.add(list(rows.values()))

    async def notices(
        self, uow: UnitOfWork, events: Sequence[Received[NotificationChanged]]
    ) -> None:
        """The borrower was told (CN-09): the agency may see and contact them from now on."""
        for event in events:
            if event.data.agency_id is not None:
                await uow.assignments.notice_sent(
                    event.envelope.tenantid, event.data.loan_id, event.data.agency_id, event.data.at
                )
        await self.lender_sends(uow, events)

    async def lender_sends(
        self, uow: UnitOfWork, events: Sequence[Received[NotificationChanged]]
    ) -> None:
        """The lender's messages; sent, then delivered in one run: the send's time, delivered."""
        made: dict[str, tuple[Contact, LoanKey]] = {}
        for event in events:
            contact = notification_contact(event.envelope.tenantid, event.data)
            if contact is None:
                continue
            if contact.id in made and contact.outcome is Outcome.ATTEMPTED:
                continue  # delivered already, or the same send twice
            if contact.id in made:
                contact = replace(made[contact.id][0], outcome=contact.outcome)
            made[contact.id] = (contact, (event.envelope.tenantid, event.data.loan_id))
        await uow.ledger.record(list(made.values()))
