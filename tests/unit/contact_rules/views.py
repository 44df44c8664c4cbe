"""The notifier's, the gateway's and compliance's views of one loan, fed the same events.

Each view runs its service's own pure code: the notifier's ``CaseBatch`` and ``outreach``, the
gateway's ``domain`` (cases, handoff) and the shared contact sources, compliance's
``judge_loan`` over audit entries made by its ``audit_entry``. Only what each service does in
SQL is written here, each with the statement it stands for named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel

from services.agency_gateway.domain.cases import apply_event, case_of_report
from services.agency_gateway.domain.contact_check import (
    CheckAnswer,
    PlacementRecord,
    contact_answer,
    debt_facts,
    intended_contact,
)
from services.compliance.domain.entries import audit_entry
from services.compliance.domain.judgement import LoggedEvent, judge_loan
from services.notifier.domain.files import Case, Notification, Preferences
from services.notifier.domain.lifecycle import CaseBatch
from services.notifier.domain.outreach import (
    facts_of,
    notifier_pack,
    rules_decision,
    stop_reason,
)
from services.notifier.domain.outreach import (
    intended_contact as lender_message,
)
from shared.contact_rules import Contact, DebtFacts, OptOut, Outcome, RulePack, check, load_pack
from shared.contact_rules.limits import replied_opt_out
from shared.contact_rules.sources import (
    activity_contact,
    contact_of_row,
    debt_id,
    dispute_hold,
    ledger_row,
    notification_contact,
)
from shared.events.assignments import (
    AgencyActivityRecorded,
    AssignmentAcknowledged,
    AssignmentEnded,
    AssignmentPlaced,
    DisputeRaised,
)
from shared.events.catalog import EVENT_TYPES
from shared.events.models import (
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.notifications import (
    NotificationChanged,
    NotificationKind,
    NotificationStatus,
    OptOutRecorded,
)
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.support import book as shipped_policies

LENDER = "lender-1"
LOAN = "L1"
BORROWER = "bref_1"
PACKS = {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}
NAMESPACE = UUID("6f1c1c1e-0000-4000-8000-000000000001")


def event_type_of(data: BaseModel) -> str:
    """The catalogue's name for an event's data (a notice sent has its own type)."""
    if isinstance(data, NotificationChanged):
        if data.kind is NotificationKind.AGENCY_NOTICE and data.status is NotificationStatus.SENT:
            return "collections.notification.agency-notice-sent"
        return f"collections.notification.{data.status.value}"
    if isinstance(data, AssignmentEnded):
        return f"collections.assignment.{_end_type(data.reason)}"
    names = {
        OverdueReported: "collections.loan.overdue-reported",
        PaymentReceived: "collections.loan.payment-received",
        HoldPlaced: "collections.loan.hold-placed",
        HoldLifted: "collections.loan.hold-lifted",
        PlacementRecalled: "collections.loan.placement-recalled",
        LoanClosed: "collections.loan.closed",
        ContactPreferencesUpdated: "collections.borrower.contact-preferences-updated",
        AssignmentPlaced: "collections.assignment.placed",
        AssignmentAcknowledged: "collections.assignment.acknowledged",
        AgencyActivityRecorded: "collections.agency.activity-recorded",
        DisputeRaised: "collections.agency.dispute-raised",
        OptOutRecorded: "collections.borrower.opt-out-recorded",
    }
    return names[type(data)]


def _end_type(reason: str) -> str:
    """The gateway ends an assignment as returned or expired by those names, else a recall."""
    return reason if reason in ("returned", "expired") else "recalled"


# -- the notifier -----------------------------------------------------------------------------


@dataclass
class NotifierView:
    """The notifier's case batch (its consumer's pure core) and its contacts table."""

    book: CaseBatch
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # contacts, by id

    @classmethod
    def start(cls, at: datetime) -> NotifierView:
        return cls(CaseBatch(shipped_policies(), at))

    def report(self, report: OverdueReported, at: datetime) -> None:
        self.book.now = at
        self.book.report(Case.of_report(LENDER, report, ("p", "1"), {}, [], frozenset(Channel)))

    def consume(self, data: BaseModel, at: datetime) -> list[OptOutRecorded]:
        """One event as ``LifecycleConsumer._apply_one`` applies it; the opt-outs it records."""
        book, before = self.book, len(self.book.opt_outs)
        book.now = at
        match data:
            case PaymentReceived():
                book.payment(LENDER, data)
            case HoldPlaced():
                book.hold_placed(LENDER, data)
            case HoldLifted():
                book.hold_lifted(LENDER, data)
            case PlacementRecalled():
                book.recalled(LENDER, data)
            case LoanClosed():
                book.closed(LENDER, data)
            case AssignmentPlaced():
                book.placed(LENDER, data)
            case AssignmentEnded():
                book.placement_ended(LENDER, data)
            case AgencyActivityRecorded():
                book.activity(LENDER, data)
            case DisputeRaised():
                book.hold_placed(LENDER, dispute_hold(data))
            case ContactPreferencesUpdated():
                book.preferences_updated(
                    LENDER, data.borrower_ref, data.preferences, data.effective_at
                )
        for contact in book.contacts:  # SqlCaseBatchStore.save: add_contacts (insert, no update)
            self.rows.setdefault(contact.id, ledger_row(contact, LENDER, LOAN))
        book.contacts.clear()
        return self._published(before)

    def replied_stop(self, channel: Channel, at: datetime) -> list[OptOutRecorded]:
        """A STOP reply, as ``receipts`` applies it."""
        before = len(self.book.opt_outs)
        self.book.now = at
        self.book.replied_stop(LENDER, BORROWER, channel, at)
        return self._published(before)

    def _published(self, before: int) -> list[OptOutRecorded]:
        return [
            OptOutRecorded(
                borrower_ref=o.borrower_ref,
                channel=o.channel,
                source=o.source,
                at=o.at,
                loan_ids=list(o.loan_ids),
            )
            for o in self.book.opt_outs[before:]
        ]

    @property
    def file(self) -> Case:
        return self.book.loans[(LENDER, LOAN)]

    @property
    def prefs(self) -> Preferences | None:
        return self.book.preferences.get((LENDER, BORROWER))

    def sent(self, notification: Notification, at: datetime) -> None:
        """The sender's record of a message that went out: the ledger, and a notice marks its
        placement told (``sending_store.record``: first notice per assignment)."""
        contact = lender_message(notification, self.file, at)
        self.rows.setdefault(contact.id, ledger_row(contact, LENDER, LOAN))
        for placement in self.file.placements:
            if (
                placement.assignment_id == notification.assignment_id
                and placement.notice_sent_at is None
            ):
                placement.notice_sent_at = at

    def delivered(self, contact_id: str) -> None:
        """``mark_delivered``: a delivery receipt upgrades the ledger entry."""
        if contact_id in self.rows:
            self.rows[contact_id]["outcome"] = Outcome.DELIVERED.value

    def ledger(self) -> list[Contact]:
        return [contact_of_row(row) for row in self.rows.values()]

    def facts(self) -> DebtFacts:
        return facts_of(self.file, self.prefs)

    def refusal(self, notification: Notification, at: datetime) -> tuple[str, ...]:
        """The sender's decision for a due message: its stop, else the rules (its own pack)."""
        reason = stop_reason(notification, self.file, self.prefs)
        if reason is not None:
            return (f"stop:{reason}",)
        pack = notifier_pack(PACKS[self.file.jurisdiction])
        return rules_decision(
            notification, self.file, self.prefs, self.ledger(), pack, at
        ).refused_by


# -- the gateway ------------------------------------------------------------------------------


@dataclass
class GatewayView:
    """The gateway's tables as its consumer and handoff write them."""

    case: dict[str, Any] = field(default_factory=dict)
    prefs: dict[str, Any] | None = None
    replies: dict[Channel, datetime] = field(default_factory=dict)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def report(self, report: OverdueReported) -> None:
        self.case = case_of_report(LENDER, report) | {
            "holds": {},
            "ended_reason": None,
            "lender_recalled_at": None,
        }

    def active(self, agency_id: str) -> dict[str, Any] | None:
        return next(
            (
                a
                for a in self.assignments.values()
                if a["agency_id"] == agency_id and a["ended_at"] is None
            ),
            None,
        )

    def lifecycle(self, data: BaseModel, at: datetime) -> AssignmentEnded | None:
        """``LifecycleHandlers.lifecycle``: the case's status, and a recall of its agency."""
        recall = apply_event(self.case, data)
        live = [a for a in self.assignments.values() if a["ended_at"] is None]
        if recall is None or not live:
            return None
        return self.end(live[0]["assignment_id"], recall, at)

    def end(self, assignment_id: str, reason: str, at: datetime) -> AssignmentEnded:
        """``ending.end_assignment``."""
        row = self.assignments[assignment_id]
        row["ended_at"] = at
        return AssignmentEnded(
            assignment_id=assignment_id,
            loan_id=LOAN,
            borrower_ref=BORROWER,
            agency_id=row["agency_id"],
            ended_at=at,
            reason=reason,
        )

    def place(self, data: AssignmentPlaced) -> None:
        self.assignments[data.assignment_id] = {
            "assignment_id": data.assignment_id,
            "agency_id": data.agency_id,
            "placed_at": data.placed_at,
            "notice_sent_at": None,
            "ended_at": None,
        }

    def dispute(self, data: DisputeRaised) -> None:
        """``CommitmentHandlers.dispute``: the case is held under the dispute's hold id."""
        hold = dispute_hold(data)
        self.case["holds"] = {**self.case["holds"], hold.hold_id: hold.reason.value}

    def preferences(self, data: ContactPreferencesUpdated) -> None:
        """``PreferenceStore.upsert``: replaced unless the stored one is newer."""
        if self.prefs is None or self.prefs["as_of"] <= data.effective_at:
            self.prefs = {
                "preferences": data.preferences.model_dump(mode="json"),
                "as_of": data.effective_at,
            }

    def opt_out(self, data: OptOutRecorded) -> None:
        """``LifecycleHandlers.opt_outs`` and ``OptOutStore.add`` (the earliest stays)."""
        replied = replied_opt_out(data)
        if replied is not None:
            kept = self.replies.get(replied.channel)
            self.replies[replied.channel] = min(kept, replied.at) if kept else replied.at

    def notification(self, data: NotificationChanged) -> None:
        """``LifecycleHandlers.notices`` and ``lender_sends``, ``ContactLedger.record``."""
        if data.kind is NotificationKind.AGENCY_NOTICE and data.agency_id is not None:
            live = self.active(data.agency_id)
            if live is not None and live["notice_sent_at"] is None:
                live["notice_sent_at"] = data.at
        contact = notification_contact(LENDER, data)
        if contact is not None:
            self._record(contact)

    def activity(self, data: AgencyActivityRecorded) -> None:
        """``AssignmentHandlers.activity``: the activity's contact in the ledger."""
        contact = activity_contact(LENDER, data)
        if contact is not None:
            self._record(contact)

    def _record(self, contact: Contact) -> None:
        row = ledger_row(contact, LENDER, LOAN)
        known = self.rows.get(contact.id)
        if known is None:
            self.rows[contact.id] = row
        elif row["outcome"] != Outcome.ATTEMPTED.value:
            known["outcome"] = row["outcome"]

    def ledger(self) -> list[Contact]:
        return [contact_of_row(row) for row in self.rows.values()]

    def facts(self) -> DebtFacts:
        """``AssignmentHandlers.contact_check``'s facts."""
        return debt_facts(
            debt_id(LENDER, LOAN),
            self.case,
            self.prefs,
            [
                PlacementRecord(a["agency_id"], a["placed_at"], a["notice_sent_at"], a["ended_at"])
                for a in self.assignments.values()
            ],
            [OptOut(channel, at) for channel, at in self.replies.items()],
        )

    def answer(self, agency_id: str, channel: Channel, at: datetime) -> CheckAnswer:
        """``AssignmentHandlers.contact_check``; 410 (no rule) once the assignment ended."""
        live = self.active(agency_id)
        if live is None:
            return CheckAnswer(False, ("assignment_ended",), "410", None)
        facts = self.facts()
        intended = intended_contact(live["assignment_id"], facts, agency_id, channel, at)
        pack = PACKS[facts.jurisdiction]
        notified = live["notice_sent_at"] is not None
        return contact_answer(intended, self.ledger(), facts, pack, notified)


# -- compliance -------------------------------------------------------------------------------


@dataclass
class ComplianceView:
    """Compliance's log of the loan and its borrower, judged by its own ``judge_loan``."""

    entries: list[LoggedEvent] = field(default_factory=list)

    def log(self, data: BaseModel) -> None:
        name = event_type_of(data)
        envelope = EVENT_TYPES[name].envelope(source="/t", subject=LOAN, tenant=LENDER, data=data)
        self.entries.append(LoggedEvent(len(self.entries), name, audit_entry(envelope)["data"]))

    def violations(self, made: BaseModel, contact_id: str) -> tuple[str, ...]:
        """The rules ``made`` breaks, logged after everything else."""
        log = ComplianceView(list(self.entries))
        log.log(made)
        found = judge_loan(LENDER, LOAN, log.entries, PACKS)
        return tuple(sorted({v.rule_id for v in found if v.contact_id == contact_id}))


def message_id(name: str) -> UUID:
    return uuid5(NAMESPACE, name)


def reminder(channel: Channel, name: str, at: datetime, file: Case) -> Notification:
    """A due reminder of the lender's, as the sender holds it."""
    return Notification(
        id=message_id(name),
        lender_id=LENDER,
        loan_id=LOAN,
        borrower_ref=BORROWER,
        kind=NotificationKind.REMINDER,
        step=1,
        channel=channel,
        template="t",
        locale=file.locale,
        policy_id="p",
        policy_version="1",
        due_at=at,
        dedupe_key=name,
    )


def message_event(
    notification: Notification, status: NotificationStatus, at: datetime
) -> NotificationChanged:
    """``application.events.notification_event`` for a send (the sender's record)."""
    return NotificationChanged(
        notification_id=notification.id,
        loan_id=notification.loan_id,
        borrower_ref=notification.borrower_ref,
        kind=notification.kind,
        step=notification.step,
        channel=notification.channel,
        template=notification.template,
        locale=notification.locale,
        policy_id=notification.policy_id,
        policy_version=notification.policy_version,
        pack_version=None,
        status=status,
        at=at,
        due_at=notification.due_at,
        agency_id=notification.agency_id,
    )


def engine_answer(contact: Contact, ledger: list[Contact], facts: DebtFacts) -> tuple[str, ...]:
    pack: RulePack = PACKS[facts.jurisdiction]
    return tuple(sorted(check(contact, ledger, facts, pack).refused_by))
