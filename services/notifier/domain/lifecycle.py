"""How each lifecycle event changes a loan's file and its notifications, free of I/O.

A ``CaseBatch`` holds the loans a batch of events touches, with their pending notifications and
their borrowers' preferences; its methods apply one event each, in consumption order, and
collect what to write: new notifications, transitions (history and events), ledger contacts,
opt-outs. The consumer loads a case batch, applies the batch and writes the result at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.files import (
    Case,
    CaseHold,
    CasePlacement,
    LoanState,
    Notification,
    Preferences,
    Transition,
)
from services.notifier.domain.messages import DEMAND_LETTER_TEMPLATES, DISPUTE_OUTCOME_TEMPLATES
from services.notifier.domain.policy import (
    AfterHold,
    AgencyNotice,
    CadencePolicy,
    CadenceStep,
    PartialPayment,
)
from shared.contact_rules import Contact
from shared.contact_rules.ledger import PartyKind
from shared.contact_rules.legal_stage import stage_stops
from shared.contact_rules.sources import activity_contact
from shared.events.assignments import (
    AgencyActivityRecorded,
    AssignmentEnded,
    AssignmentPlaced,
)
from shared.events.borrowers import DisputeResolved
from shared.events.legal import LegalStage, LegalStageChanged
from shared.events.models import (
    ContactPreferences,
    HoldLifted,
    HoldPlaced,
    LoanClosed,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.notifications import NotificationKind, NotificationStatus, OptOutSource
from shared.vocabulary import Channel

LoanKey = tuple[str, str]
CATCH_UP_LIMIT = timedelta(days=3)  # a step missed by more than this is not caught up on


@dataclass(frozen=True)
class OptOut:
    lender_id: str
    borrower_ref: str
    channel: Channel
    source: OptOutSource
    at: datetime
    loan_ids: tuple[str, ...]


@dataclass
class CaseBatch:
    policies: CadencePolicies
    now: datetime
    loans: dict[LoanKey, Case] = field(default_factory=dict)
    pending: dict[LoanKey, list[Notification]] = field(default_factory=dict)
    preferences: dict[tuple[str, str], Preferences] = field(default_factory=dict)
    created: list[Notification] = field(default_factory=list)
    changed: dict[str, Notification] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    contact_keys: dict[str, LoanKey] = field(default_factory=dict)
    opt_outs: list[OptOut] = field(default_factory=list)
    touched_loans: set[LoanKey] = field(default_factory=set)
    touched_borrowers: set[tuple[str, str]] = field(default_factory=set)
    # Each cadence laid out in this batch, by policy, anchor day and time zone: the loans of
    # one lender reported together share their due dates, and so their steps' send times.
    _schedules: dict[tuple[str, str, date, str], tuple[tuple[int, CadenceStep, datetime], ...]] = (
        field(default_factory=dict, init=False, repr=False)
    )

    # -- loans ------------------------------------------------------------------------------

    def is_news(self, lender_id: str, loan_id: str, as_of: datetime) -> bool:
        """Whether a report of the loan as of ``as_of`` changes anything: the loan is new
        here, or the report newer than its file (``report`` ignores any other)."""
        known = self.loans.get((lender_id, loan_id))
        return known is None or as_of > known.as_of

    def report(self, file: Case) -> None:
        """An overdue report: a new loan gets its cadence; a newer one updates the file."""
        known = self.loans.get(file.key)
        if known is None:
            self.loans[file.key] = file
            self.touched_loans.add(file.key)
            self._plan(file, self.now)
            return
        if file.as_of <= known.as_of:
            return
        moved = file.due_date != known.due_date
        for name in ("borrower_ref", "locale", "timezone", "due_date", "days_past_due", "as_of"):
            setattr(known, name, getattr(file, name))
        known.amount_overdue, known.currency = file.amount_overdue, file.currency
        known.contact_sealed, known.phone_refs = file.contact_sealed, file.phone_refs
        known.reachable = file.reachable
        self.touched_loans.add(known.key)
        if moved:
            self._move_due_dates(known)

    def payment(self, lender_id: str, data: PaymentReceived) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is None:
            return
        if data.cured:
            self._end(file, LoanState.CURED, "paid", data.paid_at)
            return
        policy, zone = self._policy(file), ZoneInfo(file.timezone)
        paid_on = data.paid_at.astimezone(zone).date()
        if policy.payments.on_partial is PartialPayment.RESTART:
            self._cancel(self._pending_reminders(file), "partial_payment_restart")
            file.cycle += 1
            self.touched_loans.add(file.key)
            self._plan(file, self.now, anchor=paid_on, catch_up=False)
            return
        resume_on = policy.paused_until(paid_on)
        resume_at = policy.send_time(resume_on, zone) if resume_on else None
        for notification in self._pending_reminders(file):
            if resume_at is not None and notification.due_at < resume_at:
                notification.due_at = resume_at
                self._note(notification, NotificationStatus.SCHEDULED, reason="partial_payment")

    def hold_placed(self, lender_id: str, data: HoldPlaced) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is None:
            return
        file.holds[data.hold_id] = CaseHold(data.hold_id, data.reason.value, data.placed_at)
        self.touched_loans.add(file.key)
        self._cancel(self._stoppable(file), f"hold:{data.reason.value}")

    def hold_lifted(self, lender_id: str, data: HoldLifted) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is None or file.holds.pop(data.hold_id, None) is None:
            return
        self.touched_loans.add(file.key)
        if not file.holds and file.state is LoanState.ACTIVE:
            file.cycle += 1
            catch_up = self._policy(file).holds.on_lift is AfterHold.CATCH_UP
            self._plan(file, max(self.now, data.lifted_at), catch_up=catch_up)

    def recalled(self, lender_id: str, data: PlacementRecalled) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is None or file.state is not LoanState.ACTIVE:
            return
        if not self._policy(file).stop.resume_after_recall:
            self._end(file, LoanState.RECALLED, "recalled", data.recalled_at)
            return
        self._cancel(self._stoppable(file), "recalled")
        file.cycle += 1
        self.touched_loans.add(file.key)
        self._plan(file, max(self.now, data.recalled_at), catch_up=False)

    def closed(self, lender_id: str, data: LoanClosed) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is not None:
            self._end(file, LoanState.CLOSED, f"closed:{data.reason.value}", data.closed_at)

    def dispute_resolved(self, lender_id: str, data: DisputeResolved) -> None:
        """The borrower is told the lender's answer: a notice, on the first channel they can
        be reached on and have not opted out of (SMS, then e-mail). Neither a hold still on
        the loan nor its closure by this very dispute stops it: the borrower asked for it."""
        file = self._file(lender_id, data.loan_id)
        if file is None:
            return
        prefs = self._preferences(lender_id, file.borrower_ref)
        for channel in (Channel.SMS, Channel.EMAIL):
            if channel in file.reachable and not prefs.opted_out(channel):
                template = DISPUTE_OUTCOME_TEMPLATES[(data.outcome.value, channel)]
                self._new(
                    file,
                    NotificationKind.DISPUTE_OUTCOME,
                    (channel, template),
                    self.now,
                    f"dispute:{data.dispute_id}",
                )
                return

    # -- the legal stage ------------------------------------------------------------------

    def legal_stage(self, lender_id: str, data: LegalStageChanged) -> None:
        """The escalation moved on. From the stage that stops the lender's reminders
        (``stage_stops``, demand_sent on) pending ones are cancelled and none are planned; a
        withdrawal starts the cadence over as a lifted hold does. ``demand_sent`` sends the
        demand letter, by e-mail (with its PDF) and by SMS pointing to it, on each channel the
        borrower has an address on and has not opted out of: a notice, which the stage itself
        does not stop (holds, opt-outs and the contact rules' hours apply as to any notice)."""
        file = self._file(lender_id, data.loan_id)
        if file is None or file.legal_stage == data.stage:
            return
        stopped_before = stage_stops(file.legal_stage, PartyKind.LENDER)
        file.legal_stage = data.stage
        self.touched_loans.add(file.key)
        if stage_stops(data.stage, PartyKind.LENDER):
            self._cancel(self._pending_reminders(file), f"legal_stage:{data.stage.value}")
        elif (
            stopped_before
            and data.stage is LegalStage.WITHDRAWN
            and not file.holds
            and file.state is LoanState.ACTIVE
        ):
            file.cycle += 1
            catch_up = self._policy(file).holds.on_lift is AfterHold.CATCH_UP
            self._plan(file, max(self.now, data.changed_at), catch_up=catch_up)
        if data.stage is not LegalStage.DEMAND_SENT or data.demand is None:
            return
        file.demand = data.demand
        if file.state is not LoanState.ACTIVE:
            return
        prefs = self._preferences(lender_id, file.borrower_ref)
        for channel, template in DEMAND_LETTER_TEMPLATES.items():
            if not prefs.opted_out(channel):
                self._new(
                    file,
                    NotificationKind.DEMAND_LETTER,
                    (channel, template),
                    self.now,
                    f"demand:{data.escalation_id}:{channel.value}",
                )

    # -- agencies ---------------------------------------------------------------------------

    def placed(self, lender_id: str, data: AssignmentPlaced) -> None:
        """The borrower is told at once who holds the account now (CN-09)."""
        file = self._file(lender_id, data.loan_id)
        if file is None or any(p.assignment_id == data.assignment_id for p in file.placements):
            return
        file.placements.append(
            CasePlacement(
                data.assignment_id,
                data.agency_id,
                data.agency_name,
                data.agency_phone,
                data.placed_at,
            )
        )
        self.touched_loans.add(file.key)
        policy = self._policy(file)
        if policy.stop.on_placement:
            self._cancel(self._pending_reminders(file), "placed_with_agency")
        for step in policy.agency_notice:
            notice = self._new(
                file,
                NotificationKind.AGENCY_NOTICE,
                step,
                self.now,
                f"notice:{data.assignment_id}:{step.channel.value}",
            )
            if notice is not None:
                notice.agency_id, notice.assignment_id = data.agency_id, data.assignment_id

    def placement_ended(self, lender_id: str, data: AssignmentEnded) -> None:
        file = self._file(lender_id, data.loan_id)
        if file is None:
            return
        for placement in file.placements:
            if placement.assignment_id == data.assignment_id and placement.ended_at is None:
                placement.ended_at = data.ended_at
                self.touched_loans.add(file.key)
        for notification in self._pending_of(file):
            if notification.assignment_id == data.assignment_id:
                self._cancel([notification], "placement_ended")

    def activity(self, lender_id: str, data: AgencyActivityRecorded) -> None:
        """An agency's contact counts toward every party's caps (the ledger is shared)."""
        contact = activity_contact(lender_id, data)
        if contact is None:
            return
        self.contacts.append(contact)
        self.contact_keys[contact.id] = (lender_id, data.loan_id)

    # -- borrowers --------------------------------------------------------------------------

    def preferences_updated(
        self, lender_id: str, borrower_ref: str, reported: ContactPreferences, at: datetime
    ) -> None:
        prefs = self._preferences(lender_id, borrower_ref)
        if prefs.reported_at is not None and at < prefs.reported_at:
            return
        newly_out = set(reported.opted_out_channels) - set(prefs.reported.opted_out_channels)
        prefs.reported, prefs.reported_at = reported, at
        self.touched_borrowers.add((lender_id, borrower_ref))
        files = self._files_of(lender_id, borrower_ref)
        for channel in sorted(newly_out):
            self._opt_out(prefs, files, channel, OptOutSource.PREFERENCES, at)
        if reported.cease_communication:
            self._cancel([n for f in files for n in self._pending_of(f)], "cease_requested")
        elif reported.attorney_represented:
            self._cancel([n for f in files for n in self._pending_of(f)], "attorney_represented")

    def replied_stop(
        self, lender_id: str, borrower_ref: str, channel: Channel, at: datetime
    ) -> None:
        """A STOP / 退订 reply: no more messages on that channel, from anyone."""
        prefs = self._preferences(lender_id, borrower_ref)
        if channel in prefs.reply_opt_outs:
            return
        prefs.reply_opt_outs[channel] = at
        self.touched_borrowers.add((lender_id, borrower_ref))
        self._opt_out(
            prefs, self._files_of(lender_id, borrower_ref), channel, OptOutSource.REPLY, at
        )

    # -- helpers ----------------------------------------------------------------------------

    def _opt_out(
        self,
        prefs: Preferences,
        files: list[Case],
        channel: Channel,
        source: OptOutSource,
        at: datetime,
    ) -> None:
        pending = [n for f in files for n in self._pending_of(f) if n.channel is channel]
        self._cancel(pending, f"opted_out:{channel.value}")
        loan_ids = tuple(sorted(f.loan_id for f in files))
        self.opt_outs.append(
            OptOut(prefs.lender_id, prefs.borrower_ref, channel, source, at, loan_ids)
        )

    def _plan(
        self,
        file: Case,
        start: datetime,
        *,
        anchor: date | None = None,
        catch_up: bool = True,
    ) -> None:
        """Lay out the cadence from ``start``: each step at the policy's send time on its day
        (counted from ``anchor``, the due date unless a partial payment restarted it), up to
        the policy's last day. With ``catch_up``, the latest step already past goes out once,
        at the next send time, unless the next step comes first. None while the loan's legal
        stage stops the lender's reminders."""
        if stage_stops(file.legal_stage, PartyKind.LENDER):
            return
        policy = self._policy(file)
        zone = ZoneInfo(file.timezone)
        missed: tuple[int, CadenceStep] | None = None
        upcoming: list[tuple[int, CadenceStep, datetime]] = []
        for number, step, at in self._schedule(policy, anchor or file.due_date, file.timezone):
            if at > start:
                upcoming.append((number, step, at))
            elif start - at <= CATCH_UP_LIMIT:
                missed = (number, step)
        if catch_up and missed is not None:
            again = policy.next_send_time(start, zone)
            if again is not None and (not upcoming or again < upcoming[0][2]):
                upcoming.insert(0, (missed[0], missed[1], again))
        for number, step, at in upcoming:
            notification = self._new(
                file, NotificationKind.REMINDER, step, at, f"reminder:{file.cycle}:{number}"
            )
            if notification is not None:
                notification.step = number

    def _schedule(
        self, policy: CadencePolicy, anchor: date, timezone: str
    ) -> tuple[tuple[int, CadenceStep, datetime], ...]:
        """The policy's steps from ``anchor`` with their send times in ``timezone``, leaving
        out those past the calendar's end or past the policy's stop (made once a batch)."""
        key = (policy.id, policy.version, anchor, timezone)
        steps = self._schedules.get(key)
        if steps is None:
            zone, laid_out = ZoneInfo(timezone), []
            for number, step in policy.numbered_steps():
                day = policy.step_date(anchor, step)
                at = policy.send_time(day, zone) if day else None
                if at is not None and not policy.stops_at(step.days_past_due):
                    laid_out.append((number, step, at))
            steps = self._schedules[key] = tuple(laid_out)
        return steps

    def _move_due_dates(self, file: Case) -> None:
        policy, zone = self._policy(file), ZoneInfo(file.timezone)
        steps = policy.steps
        for notification in self._pending_reminders(file):
            if notification.step is None or notification.step > len(steps):
                continue
            day = policy.step_date(file.due_date, steps[notification.step - 1])
            at = policy.send_time(day, zone) if day else None
            if at is not None and at != notification.due_at:
                notification.due_at = at
                self._note(notification, NotificationStatus.SCHEDULED, reason="due_date_changed")

    def _new(
        self,
        file: Case,
        kind: NotificationKind,
        step: CadenceStep | AgencyNotice | tuple[Channel, str],
        due_at: datetime,
        dedupe_key: str,
    ) -> Notification | None:
        """A new pending notification (``step``: a policy's step, or a channel and template);
        none on a channel the borrower has no address on."""
        channel, template = step if isinstance(step, tuple) else (step.channel, step.template)
        if channel not in file.reachable:
            return None
        policy = self._policy(file)
        notification = Notification(
            id=uuid4(),
            lender_id=file.lender_id,
            loan_id=file.loan_id,
            borrower_ref=file.borrower_ref,
            kind=kind,
            step=None,
            channel=channel,
            template=template,
            locale=file.locale,
            policy_id=policy.id,
            policy_version=policy.version,
            due_at=due_at,
            dedupe_key=dedupe_key,
        )
        self.created.append(notification)
        self.pending.setdefault(file.key, []).append(notification)
        self.transitions.append(notification.move(NotificationStatus.SCHEDULED, self.now))
        return notification

    def _end(self, file: Case, state: LoanState, reason: str, at: datetime) -> None:
        if file.state is not LoanState.ACTIVE:
            return
        file.state, file.state_reason, file.ended_at = state, reason, at
        self.touched_loans.add(file.key)
        self._cancel(self._stoppable(file), reason)

    def _cancel(self, notifications: Iterable[Notification], reason: str) -> None:
        for notification in list(notifications):
            if notification.pending:
                notification.reason = reason
                self._note(notification, NotificationStatus.CANCELLED, reason=reason)

    def _note(
        self, notification: Notification, status: NotificationStatus, **detail: object
    ) -> None:
        self.transitions.append(notification.move(status, self.now, **detail))
        self.changed[str(notification.id)] = notification

    def _file(self, lender_id: str, loan_id: str) -> Case | None:
        return self.loans.get((lender_id, loan_id))

    def _files_of(self, lender_id: str, borrower_ref: str) -> list[Case]:
        return [
            f
            for f in self.loans.values()
            if (f.lender_id, f.borrower_ref) == (lender_id, borrower_ref)
        ]

    def _preferences(self, lender_id: str, borrower_ref: str) -> Preferences:
        key = (lender_id, borrower_ref)
        if key not in self.preferences:
            self.preferences[key] = Preferences(lender_id, borrower_ref)
        return self.preferences[key]

    def _pending_of(self, file: Case) -> list[Notification]:
        return [n for n in self.pending.get(file.key, []) if n.pending]

    def _stoppable(self, file: Case) -> list[Notification]:
        """What a hold, a recall or the loan's end stops: all but the answer to a dispute."""
        return [n for n in self._pending_of(file) if n.kind is not NotificationKind.DISPUTE_OUTCOME]

    def _pending_reminders(self, file: Case) -> list[Notification]:
        return [n for n in self._pending_of(file) if n.kind is NotificationKind.REMINDER]

    def _policy(self, file: Case) -> CadencePolicy:
        return self.policies.select(file.lender_id, file.product, file.jurisdiction.value)
