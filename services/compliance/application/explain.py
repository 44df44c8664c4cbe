"""Why a contact was (or would be) refused or judged a violation: each rule of the pack, with
its verdict, source and the facts it used.

The facts and the ledger are what compliance's log says of the loan at the contact's time
(``domain/judgement.py``'s ``Case``, every party's contacts); the verdicts are the shared
engine's (``shared.contact_rules.check`` before a contact, ``judge`` after it). No rule is
evaluated here: a rule with no finding allowed the contact.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.compliance.domain.judgement import CONTACT_TYPES, Case, LoggedEvent
from shared.contact_rules import (
    Contact,
    DebtFacts,
    Finding,
    Party,
    PartyKind,
    RulePack,
    RuleStatus,
    check,
    judge,
)
from shared.contact_rules.rules import BUILDERS
from shared.contact_rules.sources import debt_id, message_contact, message_id
from shared.vocabulary import Channel, Jurisdiction

SENT_TYPES = frozenset(
    {"collections.notification.sent", "collections.notification.agency-notice-sent"}
)


class NothingToExplainError(LookupError):
    """The loan is not reported in the log, or the contact or notification is not in it."""


@dataclass(frozen=True)
class RuleVerdict:
    rule_id: str
    title: str
    source: str
    verdict: str  # refuses | broken | allows | kept | not_binding | out_of_scope | no_check
    explanation: str = ""
    evidence: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "source": self.source,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class Explanation:
    contact: dict[str, str]
    mode: str  # "check" (before the contact) or "judge" (a contact made)
    pack_version: str
    allowed: bool
    facts: dict[str, Any]
    verdicts: list[RuleVerdict] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "mode": self.mode,
            "pack_version": self.pack_version,
            "allowed": self.allowed,
            "facts": self.facts,
            "rules": [v.as_json() for v in self.verdicts],
        }


def case_of(lender_id: str, loan_id: str, events: Sequence[LoggedEvent]) -> Case:
    """The loan as its log entries state it (facts first, then every party's contacts)."""
    case = Case(lender_id, loan_id)
    ordered = sorted(events, key=lambda e: e.leaf_index)
    for event in ordered:
        case.apply(event)
    for event in ordered:
        if event.type in CONTACT_TYPES:
            case.contact(event)
    if case.jurisdiction is None or case.person_ref is None:
        raise NothingToExplainError(f"loan {loan_id} of {lender_id} is not reported in the log")
    return case


def explain_proposed(
    case: Case,
    party: Party,
    channel: Channel,
    at: datetime,
    packs: Mapping[Jurisdiction, RulePack],
) -> Explanation:
    """Each rule's answer to ``party`` contacting the borrower on ``channel`` at ``at``."""
    assert case.jurisdiction is not None
    assert case.person_ref is not None
    if party.kind is PartyKind.LENDER:
        contact = message_contact(
            case.lender_id, case.loan_id, case.person_ref, "proposed", channel, at, notice=False
        )
    else:
        contact = Contact(
            "proposed", debt_id(case.lender_id, case.loan_id), case.person_ref, party, channel, at
        )
    facts = _facts(case, at, answer_to_dispute=False)
    pack = packs[case.jurisdiction]
    decision = check(contact, case.contacts, facts, pack)
    return _explained(contact, "check", pack, facts, decision.findings, decision.allowed)


def explain_contact(
    case: Case, contact_id: str, packs: Mapping[Jurisdiction, RulePack]
) -> Explanation:
    """Each rule's judgement of a contact made (``notifier:<notification>`` or
    ``agency:<agency>:<activity>``)."""
    assert case.jurisdiction is not None
    contact = next((c for c in case.contacts if c.id == contact_id), None)
    if contact is None:
        raise NothingToExplainError(f"no contact {contact_id} in the log of loan {case.loan_id}")
    facts = _facts(case, contact.at, answer_to_dispute=contact.id in case.unheld)
    pack = packs[case.jurisdiction]
    violations = judge(contact, case.contacts, facts, pack)
    findings = tuple(Finding(v.rule_id, v.explanation, v.evidence) for v in violations)
    return _explained(contact, "judge", pack, facts, findings, not findings)


def explain_notification(
    case: Case,
    events: Sequence[LoggedEvent],
    notification_id: str,
    packs: Mapping[Jurisdiction, RulePack],
) -> Explanation:
    """A notification sent is judged as a contact made; one the notifier suppressed or has not
    sent yet is checked as the lender's message at the time its last event states."""
    mine = [e for e in events if str(e.data.get("notification_id")) == notification_id]
    if not mine:
        raise NothingToExplainError(f"no notification {notification_id} in the log")
    if any(e.type in SENT_TYPES for e in mine):
        return explain_contact(case, message_id(notification_id), packs)
    last = max(mine, key=lambda e: e.leaf_index).data
    return explain_proposed(
        case, Party.lender(), Channel(last["channel"]), datetime.fromisoformat(last["at"]), packs
    )


def _facts(case: Case, at: datetime, *, answer_to_dispute: bool) -> DebtFacts:
    facts = case.facts(at, answer_to_dispute=answer_to_dispute)
    if facts is None:
        raise NothingToExplainError(f"loan {case.loan_id} is not reported in the log")
    return facts


def _explained(
    contact: Contact,
    mode: str,
    pack: RulePack,
    facts: DebtFacts,
    findings: tuple[Finding, ...],
    allowed: bool,
) -> Explanation:
    found = {f.rule_id: f for f in findings}
    verdicts = []
    for rule in pack.rules.values():
        if rule.status is RuleStatus.OUT_OF_SCOPE:
            verdicts.append(
                RuleVerdict(rule.id, rule.title, rule.source, "out_of_scope", rule.reason or "")
            )
        elif contact.party.kind not in rule.applies_to:
            binds = ", ".join(sorted(rule.applies_to))
            verdicts.append(
                RuleVerdict(rule.id, rule.title, rule.source, "not_binding", f"binds {binds} only")
            )
        elif rule.id not in BUILDERS:
            verdicts.append(
                RuleVerdict(
                    rule.id,
                    rule.title,
                    rule.source,
                    "no_check",
                    "decides nothing about a contact by itself",
                )
            )
        elif rule.id in found:
            f = found[rule.id]
            verdict = "refuses" if mode == "check" else "broken"
            verdicts.append(
                RuleVerdict(rule.id, rule.title, rule.source, verdict, f.explanation, f.evidence)
            )
        else:
            verdict = "allows" if mode == "check" else "kept"
            verdicts.append(RuleVerdict(rule.id, rule.title, rule.source, verdict))
    return Explanation(
        contact=_contact_json(contact, facts),
        mode=mode,
        pack_version=pack.version,
        allowed=allowed,
        facts=_facts_json(facts, contact.at),
        verdicts=verdicts,
    )


def _contact_json(contact: Contact, facts: DebtFacts) -> dict[str, str]:
    return {
        "id": contact.id,
        "debt": contact.debt_id,
        "party": str(contact.party),
        "channel": contact.channel.value,
        "at": contact.at.isoformat(),
        "borrower_local_time": contact.at.astimezone(facts.zone).strftime("%Y-%m-%d %H:%M %Z"),
        "outcome": contact.outcome.value,
    }


def _facts_json(facts: DebtFacts, at: datetime) -> dict[str, Any]:
    """The facts the rules were given (pseudonymous: no contact detail is in the log)."""
    return {
        "jurisdiction": facts.jurisdiction.value,
        "borrower_zone": facts.borrower_zone,
        "holds": [
            {
                "reason": h.reason.value,
                "placed_at": h.placed_at.isoformat(),
                "active": h.active_at(at),
            }
            for h in facts.holds
        ],
        "opt_outs": [{"channel": o.channel.value, "at": o.at.isoformat()} for o in facts.opt_outs],
        "placements": [
            {
                "agency_id": p.agency_id,
                "placed_at": p.placed_at.isoformat(),
                "borrower_notified_at": p.borrower_notified_at.isoformat()
                if p.borrower_notified_at
                else None,
                "ended_at": p.ended_at.isoformat() if p.ended_at else None,
            }
            for p in facts.placements
        ],
        "cease_requested_at": _iso(facts.cease_requested_at),
        "attorney_represented_since": _iso(facts.attorney_represented_since),
        "illegal_debt": facts.illegal_debt,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
