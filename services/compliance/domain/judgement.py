"""Rule packs judged after the fact, free of I/O: a loan's log entries become the shared
engine's facts and ledger, and every violation names the entries that prove it.

Contacts are the notifier's sends (``collections.notification.sent``) and every agency's
activities but notes; facts come from the loan's events (report, holds, placements, the CN-09
notice) and its borrower's (preferences, opt-outs), each with the time it became true.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.contact_rules import (
    Contact,
    DebtFacts,
    Direction,
    Hold,
    OptOut,
    Placement,
    RulePack,
    Violation,
    judge,
)
from shared.contact_rules.facts import binding_holds
from shared.contact_rules.ledger import PartyKind
from shared.contact_rules.limits import borrower_limits, replied_opt_out
from shared.contact_rules.packs import RuleStatus
from shared.contact_rules.params import BannedPhraseParams
from shared.contact_rules.sources import agency_contact, debt_id, dispute_hold, message_contact
from shared.contact_rules.wording import banned_in
from shared.events.assignments import ActivityOutcome, ActivityType, DisputeRaised
from shared.events.models import ContactPreferences, HoldReason
from shared.events.notifications import NotificationKind, OptOutRecorded
from shared.vocabulary import Channel, Jurisdiction

SENT = "collections.notification.sent"
ACTIVITY = "collections.agency.activity-recorded"
NOTICE = "collections.notification.agency-notice-sent"
CONTACT_TYPES = frozenset({SENT, NOTICE, ACTIVITY})
DISPUTE = "collections.agency.dispute-raised"
ENDS = frozenset(f"collections.assignment.{end}" for end in ("recalled", "returned", "expired"))


ANSWER_TO_DISPUTE = NotificationKind.DISPUTE_OUTCOME.value
"""The kind of the lender's answer to a dispute: a notice the borrower asked for, which no hold
stops but one in ``ANSWER_HOLDS``. It is judged as the notifier checks it before sending, by
every rule with only the holds that bind it (``binding_holds``): sent under the dispute's hold
it is no violation (POL-01), while a reminder under the same hold still is; quiet hours, caps
and opt-outs judge it as any message."""

FACT_OF_TYPE = {
    "collections.loan.overdue-reported": "report",
    "hold-placed": "hold",
    "hold-lifted": "hold",
    "dispute-raised": "hold",
    "collections.assignment.placed": "placement",
    "collections.assignment.recalled": "placement",
    "collections.assignment.returned": "placement",
    "collections.assignment.expired": "placement",
    "agency-notice-sent": "placement",
    "opt-out-recorded": "preferences",
    "contact-preferences-updated": "preferences",
}
RULE_FACTS = {
    "POL-01": ("hold",),
    "POL-02": ("preferences",),
    "CN-01": ("preferences",),
    "CN-03": ("preferences",),
    "CN-09": ("placement",),
    "CN-10": ("placement",),
    "US-01": ("preferences",),
    "US-04": ("placement",),
    "US-06": ("preferences",),
    "US-08": ("preferences",),
    "US-12": ("preferences",),
}
"""The facts a rule's finding rests on, besides the loan's report (the jurisdiction and the
borrower's zone every judgement rests on): their entries join the proof."""


def fact_kind(event_type: str) -> str | None:
    """The kind of fact an entry of this type states (None: no fact, e.g. a contact)."""
    return FACT_OF_TYPE.get(event_type) or FACT_OF_TYPE.get(event_type.rsplit(".", 1)[-1])


@dataclass(frozen=True)
class LoggedEvent:
    """One log entry as the judge reads it."""

    leaf_index: int
    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Judged:
    """A violation of one loan, with the leaf indexes of its proof: the contact, then the
    earlier contacts it counts with and the fact entries it rests on, in log order."""

    violation_id: str
    rule_id: str
    pack_version: str
    loan_id: str
    party: str
    agency_id: str | None
    contact_id: str
    contact_at: datetime
    leaf_indexes: tuple[int, ...]
    explanation: str


@dataclass
class Case:
    """What the entries say of one loan, folded in log order."""

    lender_id: str
    loan_id: str
    jurisdiction: Jurisdiction | None = None
    zone: str | None = None
    person_ref: str | None = None
    holds: dict[str, Hold] = field(default_factory=dict)
    replies: list[OptOut] = field(default_factory=list)  # the borrower's STOP replies
    reports: list[tuple[datetime, ContactPreferences]] = field(default_factory=list)
    placements: dict[str, Placement] = field(default_factory=dict)
    untold: dict[str, list[datetime]] = field(default_factory=dict)  # notices before placement
    contacts: list[Contact] = field(default_factory=list)
    leaf_of: dict[str, int] = field(default_factory=dict)  # contact id -> leaf index
    fact_leaves: dict[str, list[int]] = field(default_factory=dict)  # fact kind -> leaves
    notes: list[LoggedEvent] = field(default_factory=list)  # agencies' notes with text
    unheld: set[str] = field(default_factory=set)  # answers to a dispute: no hold applies

    def _fact(self, kind: str, event: LoggedEvent) -> None:
        self.fact_leaves.setdefault(kind, []).append(event.leaf_index)

    def apply(self, event: LoggedEvent) -> None:
        d, kind = event.data, event.type.rsplit(".", 1)[-1]
        fact = fact_kind(event.type)
        if fact is not None:
            self._fact(fact, event)
        if event.type == "collections.loan.overdue-reported":
            self.jurisdiction = Jurisdiction(d["jurisdiction"])
            self.zone = d["borrower"]["timezone"]
            self.person_ref = d["borrower"]["ref"]
        elif kind == "hold-placed":
            self.holds[d["hold_id"]] = Hold(HoldReason(d["reason"]), _at(d["placed_at"]))
        elif event.type == DISPUTE:
            hold = dispute_hold(DisputeRaised.model_validate(_fields(DisputeRaised, d)))
            self.holds[hold.hold_id] = Hold(hold.reason, hold.placed_at)
        elif kind == "hold-lifted" and d["hold_id"] in self.holds:
            held = self.holds[d["hold_id"]]
            self.holds[d["hold_id"]] = Hold(held.reason, held.placed_at, _at(d["lifted_at"]))
        elif event.type == "collections.assignment.placed":
            self._placed(d["agency_id"], _at(d["placed_at"]))
        elif event.type in ENDS and d["agency_id"] in self.placements:
            p = self.placements[d["agency_id"]]
            self.placements[p.agency_id] = Placement(
                p.agency_id, p.placed_at, p.borrower_notified_at, _at(d["ended_at"])
            )
        elif kind == "agency-notice-sent" and d.get("agency_id"):
            self._told(d["agency_id"], _at(d["at"]))
        elif kind == "opt-out-recorded":
            replied = replied_opt_out(OptOutRecorded.model_validate(_fields(OptOutRecorded, d)))
            self.replies += [replied] if replied is not None else []
        elif kind == "contact-preferences-updated":
            self._preferences(d["preferences"], _at(d["effective_at"]))

    def _placed(self, agency_id: str, at: datetime) -> None:
        """A new placement of the agency (one logged again, the same placement, keeps its
        notice and end), then the notices of it logged before it."""
        current = self.placements.get(agency_id)
        if current is None or current.placed_at != at:
            self.placements[agency_id] = Placement(agency_id, at)
        for told_at in self.untold.pop(agency_id, []):
            self._told(agency_id, told_at)

    def _told(self, agency_id: str, at: datetime) -> None:
        """A CN-09 notice of the agency sent at ``at``: the borrower counts as told from the
        earliest notice, whatever order the notices were logged in (compliance consumes the
        notifier's topic apart from the gateway's, and the notifier sends its own notices). A
        notice logged before its placement waits for it."""
        p = self.placements.get(agency_id)
        if p is None:
            self.untold.setdefault(agency_id, []).append(at)
            return
        told = at if p.borrower_notified_at is None else min(p.borrower_notified_at, at)
        self.placements[agency_id] = Placement(p.agency_id, p.placed_at, told, p.ended_at)

    def _preferences(self, prefs: Mapping[str, Any], since: datetime) -> None:
        self.reports.append((since, ContactPreferences.model_validate(prefs)))

    def _reported_at(self, at: datetime) -> tuple[datetime, ContactPreferences] | None:
        """The lender's report in effect at ``at``: the latest effective by then (of two
        effective at once, the later logged), as the notifier and the gateway keep it."""
        effective = [(since, i) for i, (since, _) in enumerate(self.reports) if since <= at]
        return self.reports[max(effective)[1]] if effective else None

    def contact(self, event: LoggedEvent) -> None:
        """A contact entry: the lender's message (a notice too) or an agency's activity."""
        d, person = event.data, self.person_ref
        if person is None:
            return
        if event.type == ACTIVITY:
            contact = agency_contact(
                self.lender_id,
                self.loan_id,
                person,
                d["agency_id"],
                d["activity_id"],
                ActivityType(d["type"]),
                Direction(d["direction"]),
                ActivityOutcome(d["outcome"]),
                _at(d["at"]),
                recording_id=d.get("recording_id"),
                staff_count=d.get("staff_count"),
            )
            if contact is None:  # a note is not a contact; its words are judged apart
                if wording(d):
                    self.notes.append(event)
                return
            contact = replace(contact, text=wording(d))
        else:
            contact = message_contact(
                self.lender_id,
                self.loan_id,
                person,
                d["notification_id"],
                Channel(d["channel"]),
                _at(d["at"]),
                notice=d["kind"] == NotificationKind.AGENCY_NOTICE.value,
            )
            if d["kind"] == ANSWER_TO_DISPUTE:
                self.unheld.add(contact.id)
        self.contacts.append(contact)
        self.leaf_of[contact.id] = event.leaf_index

    def facts(self, at: datetime, *, answer_to_dispute: bool = False) -> DebtFacts | None:
        """The facts a contact at ``at`` is judged by: the borrower's wishes as the lender's
        report in effect then and every STOP reply stated them (``borrower_limits``);
        with the holds that bind the contact (``answer_to_dispute``: ``binding_holds``)."""
        if self.jurisdiction is None or self.zone is None or self.person_ref is None:
            return None
        report = self._reported_at(at)
        preferences, since = report[1] if report else None, report[0] if report else None
        base = DebtFacts(
            debt_id=debt_id(self.lender_id, self.loan_id),
            person_ref=self.person_ref,
            jurisdiction=self.jurisdiction,
            borrower_zone=self.zone,
            holds=binding_holds(self.holds.values(), answer_to_dispute=answer_to_dispute),
            placements=tuple(self.placements.values()),
        )
        return borrower_limits(preferences, since, self.replies).on(base)


def judge_loan(
    lender_id: str,
    loan_id: str,
    events: Sequence[LoggedEvent],
    packs: Mapping[Jurisdiction, RulePack],
) -> list[Judged]:
    """Every violation among the loan's logged contacts (none before the loan is reported:
    its jurisdiction and the borrower's zone are unknown until then)."""
    case = Case(lender_id, loan_id)
    ordered = sorted(events, key=lambda e: e.leaf_index)
    for event in ordered:  # facts first: a contact logged before the report still counts
        case.apply(event)
    for event in ordered:
        if event.type in CONTACT_TYPES:
            case.contact(event)
    if case.jurisdiction is None or case.zone is None or case.person_ref is None:
        return []
    pack = packs[case.jurisdiction]
    judged = [_judged(lender_id, loan_id, v) for v in _notes_with_banned_words(case, pack)]
    for violation in _violations(case, pack):
        contact = violation.contact
        evidence = {case.leaf_of[i] for i in violation.evidence if i in case.leaf_of}
        for kind in ("report", *RULE_FACTS.get(violation.rule_id, ())):
            evidence.update(leaf for leaf in case.fact_leaves.get(kind, ()) if leaf >= 0)
        own = case.leaf_of[contact.id]
        leaves = (own, *sorted(evidence - {own}))
        found = _Found(
            violation.rule_id,
            violation.pack_version,
            contact.party.agency_id,
            contact.id,
            contact.at,
            leaves,
            violation.explanation,
        )
        judged.append(_judged(lender_id, loan_id, found))
    return judged


def _violations(case: Case, pack: RulePack) -> list[Violation]:
    """Every contact judged by the facts of its own time, oldest first (``judge_ledger``, with
    the borrower's wishes of each contact's moment)."""
    found: list[Violation] = []
    for contact in sorted(case.contacts, key=lambda c: c.at):
        facts = case.facts(contact.at, answer_to_dispute=contact.id in case.unheld)
        assert facts is not None
        found += judge(contact, case.contacts, facts, pack)
    return found


@dataclass(frozen=True)
class _Found:
    rule_id: str
    pack_version: str
    agency_id: str | None
    contact_id: str
    contact_at: datetime
    leaf_indexes: tuple[int, ...]
    explanation: str


def _judged(lender_id: str, loan_id: str, found: _Found) -> Judged:
    key = f"{lender_id}/{loan_id}/{found.contact_id}/{found.rule_id}"
    return Judged(
        violation_id="v_" + hashlib.sha256(key.encode()).hexdigest()[:24],
        rule_id=found.rule_id,
        pack_version=found.pack_version,
        loan_id=loan_id,
        party="lender" if found.agency_id is None else f"agency:{found.agency_id}",
        agency_id=found.agency_id,
        contact_id=found.contact_id,
        contact_at=found.contact_at,
        leaf_indexes=found.leaf_indexes,
        explanation=found.explanation,
    )


def _notes_with_banned_words(case: Case, pack: RulePack) -> list[_Found]:
    """An agency's note is no contact, but its words are the agency's: the pack's banned
    phrases (CN-06) apply to them as to a message."""
    rules = [
        (rule.id, rule.params.banned_phrases)
        for rule in pack.rules.values()
        if isinstance(rule.params, BannedPhraseParams)
        and rule.status is not RuleStatus.OUT_OF_SCOPE
        and PartyKind.AGENCY in rule.applies_to
    ]
    found = []
    for note in case.notes:
        d = note.data
        for rule_id, phrases in rules:
            words = banned_in(str(wording(d)), phrases)
            if words:
                found.append(
                    _Found(
                        rule_id,
                        pack.version,
                        d["agency_id"],
                        f"agency:{d['agency_id']}:{d['activity_id']}",
                        _at(d["at"]),
                        (note.leaf_index,),
                        "the agency's note contains banned wording: " + ", ".join(words),
                    )
                )
    return found


def wording(activity: Mapping[str, Any]) -> str | None:
    """What an agency's activity is judged by for its words: the banned phrases the gateway
    found in its text (the text stays sealed in the gateway; the log holds its keyed hash), or
    the text itself in entries logged before texts left the events."""
    if activity.get("text"):
        return str(activity["text"])
    found = activity.get("banned_phrases") or []
    return "\n".join(found) or None


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _fields(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """What of a logged event's data its model reads (older entries may carry more)."""
    return {name: data[name] for name in model.model_fields if name in data}
