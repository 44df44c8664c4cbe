"""One answer to "may we contact": the same events, three services' views, one verdict.

Hypothesis draws a loan's life — overdue reports, payments, holds and lifts (an agency's
dispute included), the lender's reports of the borrower's preferences, STOP replies, placements
with two agencies and their end, notices, agencies' activities, the lender's messages — and
feeds the same sequence to the notifier's, the gateway's and compliance's views
(``views.py``, each through its own domain code). Then for a contact drawn after it (any party,
channel and time):

1. every view gives the shared engine the same facts and ledger: ``check`` over the notifier's
   and over the gateway's equals what compliance's ``judge`` finds in the contact, rule for
   rule, whatever its outcome;
2. the services' own answers agree: the gateway's contact check for an agency and the
   notifier's sender for the lender refuse exactly when compliance would find a violation,
   except where only one side can know (``EXCEPTIONS`` below, each with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.domain.files import LoanState, Notification
from shared.contact_rules import Contact, Party
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES
from shared.contact_rules.sources import ACTIVITY_OUTCOMES, activity_channel, activity_id
from shared.contact_rules.sources import message_id as ledger_message_id
from shared.crypto import SealedValue
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    AssignmentAcknowledged,
    AssignmentEnded,
    AssignmentPlaced,
    DisputeRaised,
)
from shared.events.models import (
    BorrowerProfile,
    ClosureReason,
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)
from shared.events.money import Money
from shared.events.notifications import NotificationKind, NotificationStatus, OptOutRecorded
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.contact_rules.views import (
    BORROWER,
    LENDER,
    LOAN,
    ComplianceView,
    GatewayView,
    NotifierView,
    engine_answer,
    message_event,
    reminder,
)

PROPERTY = settings(
    max_examples=int(__import__("os").environ.get("ONE_ANSWER_EXAMPLES", "200")),
    deadline=None,
    derandomize=__import__("os").environ.get("ONE_ANSWER_EXAMPLES") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ZONES = {Jurisdiction.CN: "Asia/Shanghai", Jurisdiction.US: "America/New_York"}
AGENCIES = ("agency-a", "agency-b")
LENDER_CHANNELS = (Channel.SMS, Channel.EMAIL)
ACTIVITY_TYPES = (
    ActivityType.CALL,
    ActivityType.SMS,
    ActivityType.EMAIL,
    ActivityType.LETTER,
    ActivityType.VISIT,
    ActivityType.NOTE,
)
SEALED = SealedValue(kid="k", ct="AA==")
LenderEvent = HoldPlaced | HoldLifted | PaymentReceived | PlacementRecalled | LoanClosed
GatewayEvent = (
    AssignmentPlaced
    | AssignmentEnded
    | AssignmentAcknowledged
    | AgencyActivityRecorded
    | DisputeRaised
)


def money(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="CNY")


@dataclass
class World:
    """The three views, fed one event at a time in the order the platform would see them."""

    jurisdiction: Jurisdiction
    notifier: NotifierView
    gateway: GatewayView = field(default_factory=GatewayView)
    compliance: ComplianceView = field(default_factory=ComplianceView)
    clock: datetime = START
    count: int = 0
    holds: list[str] = field(default_factory=list)
    sends: list[Notification] = field(default_factory=list)
    story: list[str] = field(default_factory=list)

    @classmethod
    def reported(cls, jurisdiction: Jurisdiction) -> World:
        world = cls(jurisdiction, NotifierView.start(START))
        report = OverdueReported(
            loan_id=LOAN,
            borrower=BorrowerProfile(
                ref=BORROWER, contact=SEALED, locale="zh-CN", timezone=ZONES[jurisdiction]
            ),
            jurisdiction=jurisdiction.value,
            product="cash",
            amount_overdue=money("1000.00"),
            due_date=date(2026, 3, 1),
            days_past_due=1,
            as_of=START,
        )
        world.notifier.report(report, START)
        world.gateway.report(report)
        world.compliance.log(report)
        return world

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    # -- what the lender reports (intake's events) ----------------------------------------

    def lifecycle(
        self, data: HoldPlaced | HoldLifted | PaymentReceived | PlacementRecalled | LoanClosed
    ) -> None:
        self.notifier.consume(data, self.clock)
        ended = self.gateway.lifecycle(data, self.clock)
        self.compliance.log(data)
        if ended is not None:
            self.from_gateway(ended)

    def preferences(self, preferences: ContactPreferences) -> None:
        data = ContactPreferencesUpdated(
            borrower_ref=BORROWER, preferences=preferences, effective_at=self.clock
        )
        published = self.notifier.consume(data, self.clock)
        self.gateway.preferences(data)
        self.compliance.log(data)
        self.from_notifier(published)

    # -- what the notifier publishes ------------------------------------------------------

    def from_notifier(self, opt_outs: list[OptOutRecorded]) -> None:
        for opt_out in opt_outs:
            self.gateway.opt_out(opt_out)
            self.compliance.log(opt_out)

    def stop(self, channel: Channel) -> None:
        self.from_notifier(self.notifier.replied_stop(channel, self.clock))

    def send(self, channel: Channel) -> None:
        if self.notifier.file.state is not LoanState.ACTIVE:
            return
        n = reminder(channel, self.name("n"), self.clock, self.notifier.file)
        if self.notifier.refusal(n, self.clock):
            return  # the sender holds it back; nothing goes out
        self._went(n)
        self.sends.append(n)

    def notice(self, agency: str) -> None:
        """The agency notice the notifier planned on placement goes out."""
        for items in self.notifier.book.pending.values():
            for n in items:
                if n.kind is NotificationKind.AGENCY_NOTICE and n.agency_id == agency and n.pending:
                    if self.notifier.refusal(n, self.clock):
                        continue
                    n.status = NotificationStatus.SENT
                    self._went(n)
                    return

    def _went(self, n: Notification) -> None:
        self.notifier.sent(n, self.clock)
        event = message_event(n, NotificationStatus.SENT, self.clock)
        self.gateway.notification(event)
        self.compliance.log(event)

    def delivered(self, index: int) -> None:
        """A delivery receipt for one of the lender's messages, and its event."""
        if not self.sends:
            return
        n = self.sends[index % len(self.sends)]
        self.notifier.delivered(ledger_message_id(n.id))
        event = message_event(n, NotificationStatus.DELIVERED, self.clock)
        self.gateway.notification(event)
        self.compliance.log(event)

    # -- what the gateway publishes -------------------------------------------------------

    def from_gateway(
        self,
        data: AssignmentPlaced
        | AssignmentEnded
        | AssignmentAcknowledged
        | AgencyActivityRecorded
        | DisputeRaised,
    ) -> None:
        self.notifier.consume(data, self.clock)
        self.compliance.log(data)

    def place(self, agency: str) -> None:
        if self.gateway.active(agency) is not None:
            return
        data = AssignmentPlaced(
            assignment_id=self.name("as"),
            loan_id=LOAN,
            borrower_ref=BORROWER,
            agency_id=agency,
            agency_name=agency,
            placed_at=self.clock,
            policy_version="1",
            reason="threshold",
        )
        self.gateway.place(data)
        self.from_gateway(data)

    def end(self, agency: str, reason: str) -> None:
        live = self.gateway.active(agency)
        if live is not None:
            self.from_gateway(self.gateway.end(live["assignment_id"], reason, self.clock))

    def acknowledge(self, agency: str) -> None:
        live = self.gateway.active(agency)
        if live is not None:
            self.from_gateway(
                AssignmentAcknowledged(
                    assignment_id=live["assignment_id"],
                    loan_id=LOAN,
                    agency_id=agency,
                    acknowledged_at=self.clock,
                )
            )

    def activity(
        self, agency: str, kind: ActivityType, outcome: ActivityOutcome, inbound: bool
    ) -> None:
        live = self.gateway.active(agency)
        if live is None:
            return  # the gateway answers 410
        channel = activity_channel(kind)
        if channel is not None and ACTIVITY_OUTCOMES[outcome] not in POSSIBLE_OUTCOMES[channel]:
            return  # the gateway answers 422
        visit = kind is ActivityType.VISIT
        data = AgencyActivityRecorded(
            activity_id=self.name("act"),
            assignment_id=live["assignment_id"],
            loan_id=LOAN,
            borrower_ref=BORROWER,
            agency_id=agency,
            type=kind,
            direction=ActivityDirection.INBOUND if inbound else ActivityDirection.OUTBOUND,
            outcome=outcome,
            at=self.clock,
            recording_id="rec" if visit else None,
            staff_count=2 if visit else None,
        )
        self.gateway.activity(data)
        self.from_gateway(data)

    def dispute(self, agency: str) -> None:
        live = self.gateway.active(agency)
        if live is None:
            return
        data = DisputeRaised(
            dispute_id=self.name("d"),
            assignment_id=live["assignment_id"],
            loan_id=LOAN,
            borrower_ref=BORROWER,
            agency_id=agency,
            reason="not mine",
            raised_at=self.clock,
        )
        self.gateway.dispute(data)
        self.holds.append(f"agency-dispute:{data.dispute_id}")
        self.from_gateway(data)


# -- the steps --------------------------------------------------------------------------------

agencies = st.sampled_from(AGENCIES)


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, tuple[object, ...]]:
    kind = draw(
        st.sampled_from(
            [
                "payment",
                "hold",
                "lift",
                "preferences",
                "stop",
                "place",
                "notice",
                "end",
                "acknowledge",
                "activity",
                "send",
                "delivered",
                "dispute",
                "recall",
                "close",
                "calls",
                "place",
                "notice",
                "send",
            ]
        )
    )
    match kind:
        case "payment":
            return kind, (draw(st.booleans()),)
        case "hold":
            return kind, (draw(st.sampled_from(list(HoldReason))),)
        case "lift" | "delivered":
            return kind, (draw(st.integers(0, 5)),)
        case "preferences":
            return kind, (
                ContactPreferences(
                    opted_out_channels=draw(st.lists(st.sampled_from(list(Channel)), unique=True)),
                    cease_communication=draw(st.booleans()),
                    attorney_represented=draw(st.booleans()),
                ),
            )
        case "stop":
            return kind, (draw(st.sampled_from([Channel.SMS, Channel.EMAIL])),)
        case "place" | "notice" | "acknowledge" | "dispute":
            return kind, (draw(agencies),)
        case "end":
            return kind, (draw(agencies), draw(st.sampled_from(["returned", "expired"])))
        case "activity":
            return kind, (
                draw(agencies),
                draw(st.sampled_from(ACTIVITY_TYPES)),
                draw(st.sampled_from(list(ActivityOutcome))),
                draw(st.booleans()),
            )
        case "send":
            return kind, (draw(st.sampled_from(LENDER_CHANNELS)),)
        case "calls":
            outcome = draw(st.sampled_from([ActivityOutcome.NO_ANSWER, ActivityOutcome.ANSWERED]))
            return kind, (draw(agencies), outcome, draw(st.integers(1, 7)))
    return kind, ()


def play(world: World, kind: str, args: tuple[object, ...]) -> None:
    world.story.append(f"{world.clock:%d %H:%M} {kind} {args}")
    match kind, args:
        case "payment", (bool() as cured,):
            world.lifecycle(
                PaymentReceived(
                    loan_id=LOAN,
                    payment_id=world.name("p"),
                    amount=money("100.00"),
                    paid_at=world.clock,
                    outstanding=money("0.00" if cured else "900.00"),
                    cured=cured,
                )
            )
        case "hold", (HoldReason() as reason,):
            hold_id = world.name("h")
            world.holds.append(hold_id)
            world.lifecycle(
                HoldPlaced(loan_id=LOAN, hold_id=hold_id, reason=reason, placed_at=world.clock)
            )
        case "lift", (int() as index,):
            if world.holds:
                hold_id = world.holds[index % len(world.holds)]
                world.lifecycle(HoldLifted(loan_id=LOAN, hold_id=hold_id, lifted_at=world.clock))
        case "preferences", (ContactPreferences() as preferences,):
            world.preferences(preferences)
        case "stop", (Channel() as channel,):
            world.stop(channel)
        case "place", (str() as agency,):
            world.place(agency)
        case "notice", (str() as agency,):
            world.notice(agency)
        case "end", (str() as agency, str() as reason):
            world.end(agency, reason)
        case "acknowledge", (str() as agency,):
            world.acknowledge(agency)
        case "activity", (
            str() as agency,
            ActivityType() as t,
            ActivityOutcome() as o,
            bool() as i,
        ):
            world.activity(agency, t, o, i)
        case "send", (Channel() as channel,):
            world.send(channel)
        case "calls", (str() as agency, ActivityOutcome() as outcome, int() as times):
            for _ in range(times):
                world.activity(agency, ActivityType.CALL, outcome, False)
        case "delivered", (int() as index,):
            world.delivered(index)
        case "dispute", (str() as agency,):
            world.dispute(agency)
        case "recall", ():
            world.lifecycle(PlacementRecalled(loan_id=LOAN, reason="r", recalled_at=world.clock))
        case "close", ():
            world.lifecycle(
                LoanClosed(loan_id=LOAN, reason=ClosureReason.SETTLED, closed_at=world.clock)
            )


@st.composite
def lives(draw: st.DrawFn) -> World:
    """A reported loan and what happened to it, each step some minutes to a day after the last
    (sometimes at the same instant)."""
    world = World.reported(draw(st.sampled_from(list(Jurisdiction))))
    for kind, args in draw(st.lists(steps(), min_size=4, max_size=30)):
        world.clock += timedelta(minutes=draw(st.sampled_from([0, 1, 17, 90, 300, 720, 1440])))
        play(world, kind, args)
    return world


@st.composite
def contacts(draw: st.DrawFn) -> tuple[Party, Channel, timedelta]:
    party = draw(st.sampled_from([Party.lender(), *(Party.agency(a) for a in AGENCIES)]))
    channels = LENDER_CHANNELS if party.agency_id is None else tuple(Channel)
    later = timedelta(minutes=draw(st.one_of(st.sampled_from([0, 1, 60]), st.integers(0, 2880))))
    return party, draw(st.sampled_from(channels)), later


# -- the answers ------------------------------------------------------------------------------

ACTIVITY_OF_CHANNEL = {
    Channel.PHONE_CALL: ActivityType.CALL,
    Channel.SMS: ActivityType.SMS,
    Channel.EMAIL: ActivityType.EMAIL,
    Channel.LETTER: ActivityType.LETTER,
    Channel.FIELD_VISIT: ActivityType.VISIT,
}


def judged(world: World, party: Party, channel: Channel, at: datetime) -> tuple[str, ...]:
    """What compliance finds in the contact once made, for any outcome it can have."""
    if party.agency_id is None:
        n = reminder(channel, "drawn", at, world.notifier.file)
        event = message_event(n, NotificationStatus.SENT, at)
        return world.compliance.violations(event, ledger_message_id(n.id))
    found: set[str] = set()
    kind = ACTIVITY_OF_CHANNEL[channel]
    for outcome in ActivityOutcome:
        if ACTIVITY_OUTCOMES[outcome] not in POSSIBLE_OUTCOMES[channel]:
            continue
        data = AgencyActivityRecorded(
            activity_id="drawn",
            assignment_id="x",
            loan_id=LOAN,
            borrower_ref=BORROWER,
            agency_id=party.agency_id,
            type=kind,
            direction=ActivityDirection.OUTBOUND,
            outcome=outcome,
            at=at,
        )
        found |= set(world.compliance.violations(data, activity_id(party.agency_id, "drawn")))
    return tuple(sorted(found))


def intended(world: World, party: Party, channel: Channel, at: datetime) -> Contact:
    """The drawn contact, as a party would ask about it."""
    return Contact(
        id="drawn",
        debt_id=f"{LENDER}/{LOAN}",
        person_ref=BORROWER,
        party=party,
        channel=channel,
        at=at,
        to_mobile=channel is Channel.SMS,
        opt_out_notice=True if party.agency_id is None else None,
    )


@given(world=lives(), drawn=contacts())
@PROPERTY
def test_every_view_gives_the_engine_the_same_facts_and_ledger(
    world: World, drawn: tuple[Party, Channel, timedelta]
) -> None:
    party, channel, later = drawn
    at = world.clock + later
    contact = intended(world, party, channel, at)
    by_notifier = engine_answer(contact, world.notifier.ledger(), world.notifier.facts())
    by_gateway = engine_answer(contact, world.gateway.ledger(), world.gateway.facts())
    by_compliance = judged(world, party, channel, at)
    assert by_notifier == by_gateway == by_compliance, (
        f"notifier {by_notifier}, gateway {by_gateway}, compliance {by_compliance}\n"
        f"{world.jurisdiction} {party} {channel} at {at:%d %H:%M}\n" + "\n".join(world.story)
    )


EXCEPTIONS = {
    "stop:cured": "the notifier stops reminding once a loan is paid, closed or recalled; no "
    "pack rule forbids a contact about an ended loan, so compliance has nothing to judge",
    "US lender": "in US packs Regulation F (US-01 hours, US-06 opt-outs, US-08 cease and "
    "attorney) binds agencies only; the notifier holds the lender's own reminders to them "
    "(notifier_pack, stop_reason), compliance judges the lender by the pack as published",
    "attorney_represented": "a represented borrower where the pack has no rule of its own (CN): "
    "the platform's refusal (limits.represented) at the notifier and the gateway; compliance "
    "judges pack rules only",
    "agency_notice_pending": "an agency not yet announced where the pack has no CN-09 (US): the "
    "gateway's own refusal; compliance judges pack rules only",
    "assignment_ended": "an agency whose assignment ended gets 410 from the gateway; only the CN "
    "pack binds an agency to its placement (CN-10), so in US compliance finds nothing",
}
"""Where a service's own answer may refuse what compliance would not find, and why: rules only
one side can know. Each is a refusal (never an allowance compliance would judge)."""


def exception(world: World, party: Party, refused: tuple[str, ...]) -> str | None:
    """The documented reason a refusal has no violation behind it, or None."""
    us = world.jurisdiction is Jurisdiction.US
    for rule in refused:
        if rule.startswith("stop:") and world.notifier.file.state != "active":
            return EXCEPTIONS["stop:cured"]
        if party.agency_id is None and us:
            return EXCEPTIONS["US lender"]
        if rule in ("attorney_represented", "stop:attorney_represented"):
            return EXCEPTIONS["attorney_represented"]
        if rule in ("agency_notice_pending", "assignment_ended") and us:
            return EXCEPTIONS[rule]
    return None


@given(world=lives(), drawn=contacts())
@PROPERTY
def test_each_services_answer_is_what_compliance_would_find(
    world: World, drawn: tuple[Party, Channel, timedelta]
) -> None:
    """The notifier's sender (lender) and the gateway's contact check (agencies) refuse a
    contact exactly when compliance would find a violation in it, save ``EXCEPTIONS``."""
    party, channel, later = drawn
    at = world.clock + later
    found = judged(world, party, channel, at)
    if party.agency_id is None:
        refused = world.notifier.refusal(reminder(channel, "drawn", at, world.notifier.file), at)
    else:
        refused = world.gateway.answer(party.agency_id, channel, at).rules
    if found:
        assert refused, f"allowed, but compliance finds {found}\n" + "\n".join(world.story)
    elif refused:
        assert exception(world, party, refused) is not None, (
            f"refused by {refused}, compliance finds nothing\n"
            f"{world.jurisdiction} {party} {channel} at {at:%d %H:%M}\n" + "\n".join(world.story)
        )
