"""The gateway's consumer: the loan lifecycle from intake, and the notifier's sends.

Reports open or update cases; payments, holds, recalls and closures change a case's standing
and recall the agency that holds it, in the same transaction as the recall's event; the
notifier's agency notice lets the agency see the borrower (CN-09); its sends feed the contact
ledger that agencies' contacts are checked against, and the borrower's STOP replies it records
are kept per borrower and channel for the same check.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import (
    CaseRepository,
    OptOutRepository,
    PreferenceRepository,
)
from services.agency_gateway.adapters.commitments import CommitmentBook
from services.agency_gateway.adapters.contacts import ContactKeys
from services.agency_gateway.adapters.ledger import ContactLedger
from services.agency_gateway.adapters.webhooks import DeliveryLog
from services.agency_gateway.domain.cases import apply_event, case_of_report
from services.agency_gateway.domain.policy import PlacementPolicy
from services.agency_gateway.outcomes import end_assignment
from shared.contact_rules import Contact, Outcome
from shared.contact_rules.limits import replied_opt_out
from shared.contact_rules.sources import MESSAGE_OUTCOMES, notification_contact
from shared.db.unit_of_work import UnitOfWork, enqueue
from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    CONTACT_PREFERENCES_UPDATED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
    NOTIFICATION_EVENTS,
    OPT_OUT_RECORDED,
    OVERDUE_REPORTED,
    PAYMENT_RECEIVED,
    PLACEMENT_RECALLED,
    latest_reports,
)
from shared.events.envelope import Envelope
from shared.events.models import (
    ContactPreferencesUpdated,
    OverdueReported,
    PaymentReceived,
)
from shared.events.notifications import NotificationChanged, OptOutRecorded
from shared.kafka.handlers import EventHandlers, Received

GROUP = "agency-gateway"
# What lifecycle events change of a case, with its key: written once per batch.
STANDING = (
    "lender_id",
    "loan_id",
    "holds",
    "ended_reason",
    "lender_recalled_at",
    "amount_overdue",
)


@dataclass(frozen=True)
class GatewayConsumer:
    policy: PlacementPolicy
    contacts: ContactKeys
    assignments_topic: str

    def handlers(self) -> EventHandlers:
        handlers = EventHandlers()
        handlers.on(OVERDUE_REPORTED, self.reports)
        for lifecycle in (
            PAYMENT_RECEIVED,
            HOLD_PLACED,
            HOLD_LIFTED,
            PLACEMENT_RECALLED,
            LOAN_CLOSED,
        ):
            handlers.on(lifecycle, self.lifecycle)
        handlers.on(CONTACT_PREFERENCES_UPDATED, self.preferences)
        handlers.on(AGENCY_NOTICE_SENT, self.notices)
        handlers.on(OPT_OUT_RECORDED, self.opt_outs)
        for status in MESSAGE_OUTCOMES:
            handlers.on(NOTIFICATION_EVENTS[status], self.lender_sends)
        return handlers

    async def reports(self, uow: UnitOfWork, events: Sequence[Received[OverdueReported]]) -> None:
        session = uow.session
        """A report whose contact does not open with the transit keys is dead-lettered (after
        a transit key rotation, replay it once the gateway holds the new key)."""
        now = datetime.now(UTC)
        rows = []
        for event in latest_reports(events):
            report = event.data
            case = case_of_report(event.envelope.tenantid, report)
            rows.append(
                {
                    **case,
                    "contact_sealed": self.contacts.stored(report.borrower.contact, case),
                    "status": self.policy.status_for(report.days_past_due).value,
                    "updated_at": now,
                    "placement_due_at": now,
                }
            )
        await CaseRepository(session).upsert(rows)

    async def lifecycle(self, uow: UnitOfWork, events: Sequence[Received[Any]]) -> None:
        session = uow.session
        keys = {(e.envelope.tenantid, e.data.loan_id) for e in events}
        cases = await CaseRepository(session).for_update(keys)
        active = await AssignmentStore(session).active(keys)
        envelopes: list[Envelope] = []
        payments: list[dict[str, Any]] = []
        changed: set[tuple[str, str]] = set()
        now = datetime.now(UTC)
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
                        session,
                        assignment,
                        case["borrower_ref"],
                        "recalled",
                        recall,
                        now,
                        self.policy.version,
                    )
                )
                del active[key]
        await CaseRepository(session).change_each(
            [
                {name: cases[key][name] for name in STANDING}
                | {"placement_due_at": now, "updated_at": now}
                for key in sorted(changed)
            ]
        )
        await CommitmentBook(session).record_lender_payments(payments)
        await enqueue(session, self.assignments_topic, envelopes)
        await DeliveryLog(session).owe_for(envelopes, now)

    async def preferences(
        self, uow: UnitOfWork, events: Sequence[Received[ContactPreferencesUpdated]]
    ) -> None:
        session = uow.session
        now = datetime.now(UTC)
        for event in events:
            lender, data = event.envelope.tenantid, event.data
            await PreferenceRepository(session).upsert(
                {
                    "lender_id": lender,
                    "borrower_ref": data.borrower_ref,
                    "cease": data.preferences.cease_communication,
                    "attorney": data.preferences.attorney_represented,
                    "preferences": data.preferences.model_dump(mode="json"),
                    "as_of": data.effective_at,
                }
            )
            await CaseRepository(session).borrowers_due_now(lender, data.borrower_ref, now)

    async def opt_outs(self, uow: UnitOfWork, events: Sequence[Received[OptOutRecorded]]) -> None:
        session = uow.session
        """The borrower's STOP replies, per borrower and channel (the earliest stays); an
        opt-out the lender reported comes with its preferences instead."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
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
        await OptOutRepository(session).add(list(rows.values()))

    async def notices(
        self, uow: UnitOfWork, events: Sequence[Received[NotificationChanged]]
    ) -> None:
        session = uow.session
        """The borrower was told (CN-09): the agency may see and contact them from now on."""
        store = AssignmentStore(session)
        for event in events:
            if event.data.agency_id is not None:
                await store.notice_sent(
                    event.envelope.tenantid, event.data.loan_id, event.data.agency_id, event.data.at
                )
        await self.lender_sends(uow, events)

    async def lender_sends(
        self, uow: UnitOfWork, events: Sequence[Received[NotificationChanged]]
    ) -> None:
        session = uow.session
        """The lender's messages; sent, then delivered in one run: the send's time, delivered."""
        made: dict[str, tuple[Contact, tuple[str, str]]] = {}
        for event in events:
            contact = notification_contact(event.envelope.tenantid, event.data)
            if contact is None:
                continue
            if contact.id in made and contact.outcome is Outcome.ATTEMPTED:
                continue  # delivered already, or the same send twice
            if contact.id in made:
                contact = replace(made[contact.id][0], outcome=contact.outcome)
            made[contact.id] = (contact, (event.envelope.tenantid, event.data.loan_id))
        await ContactLedger(session).record(list(made.values()))
