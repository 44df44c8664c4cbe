"""``check`` before a contact and ``judge`` after it, over one evaluation of the same rules.

``check`` does not know how the intended contact will end, so it weighs every outcome its
channel can have: it allows a contact only if no outcome would break a rule, which is why a
contact ``check`` allows is one ``judge`` finds nothing in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from shared.contact_rules.facts import DebtFacts
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES, Contact, PartyKind, history_of
from shared.contact_rules.packs import RulePack, RuleStatus
from shared.contact_rules.rules import BUILDERS, OUTCOME_SENSITIVE, Evaluate, Finding, Situation

MAX_STEPS = 64
HORIZON = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of ``check``. ``next_allowed_at`` is in the borrower's zone; it is ``None``
    when the contact is allowed now, or when time alone will never allow it (a hold, an
    opt-out, an agency not yet announced ...)."""

    allowed: bool
    refused_by: tuple[str, ...]
    explanation: str
    next_allowed_at: datetime | None
    findings: tuple[Finding, ...]
    pack_version: str


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule a past contact broke, with the ids of the ledger entries that prove it."""

    rule_id: str
    pack_version: str
    contact: Contact
    evidence: tuple[str, ...]
    explanation: str

    @property
    def contact_id(self) -> str:
        return self.contact.id


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule_id: str
    evaluate: Evaluate
    parties: frozenset[PartyKind]
    outcome_sensitive: bool


@lru_cache(maxsize=64)
def _compile(pack: RulePack) -> tuple[_Compiled, ...]:
    compiled = []
    for rule in pack.rules.values():
        builder = BUILDERS.get(rule.id)
        if rule.status is RuleStatus.OUT_OF_SCOPE or builder is None:
            continue
        evaluate = builder(rule, pack)
        sensitive = rule.id in OUTCOME_SENSITIVE
        compiled.append(_Compiled(rule.id, evaluate, rule.applies_to, sensitive))
    return tuple(compiled)


def _findings(
    contact: Contact, ledger: Iterable[Contact], facts: DebtFacts, pack: RulePack, ahead: bool
) -> tuple[Finding, ...]:
    _same_debt(contact, facts, pack)
    tz = facts.zone
    s = Situation(contact, history_of(contact, ledger), facts, tz, contact.at.astimezone(tz))
    variants: list[Situation] | None = None
    found = []
    for rule in _compile(pack):
        if contact.party.kind not in rule.parties:
            continue
        if ahead and rule.outcome_sensitive:
            if variants is None:
                variants = [s.with_outcome(o) for o in POSSIBLE_OUTCOMES[contact.channel]]
            finding = next((f for v in variants if (f := rule.evaluate(v)) is not None), None)
        else:
            finding = rule.evaluate(s)
        if finding is not None:
            found.append(finding)
    return tuple(found)


def _same_debt(contact: Contact, facts: DebtFacts, pack: RulePack) -> None:
    if (contact.debt_id, contact.person_ref) != (facts.debt_id, facts.person_ref):
        raise ValueError(f"contact {contact.id} is not about the debt these facts describe")
    if facts.jurisdiction is not pack.jurisdiction:
        raise ValueError(f"a {facts.jurisdiction} debt cannot be judged by pack {pack.version}")


def check(
    contact: Contact, ledger: Sequence[Contact], facts: DebtFacts, pack: RulePack
) -> Decision:
    """Whether ``contact`` may be made at ``contact.at``, given every party's earlier contacts.

    The contact's ``outcome`` is ignored: every outcome its channel can have is weighed.
    """
    if not contact.outbound:
        raise ValueError("check decides outbound contacts; an inbound one is only recorded")
    findings = _findings(contact, ledger, facts, pack, ahead=True)
    if not findings:
        return Decision(True, (), f"allowed by {pack.version}", None, (), pack.version)
    next_at = _next_allowed(contact, ledger, facts, pack, findings)
    reasons = "; ".join(f"{f.rule_id}: {f.explanation}" for f in findings)
    if next_at is None:
        later = "time alone will not allow it"
    else:
        later = f"allowed again from {next_at:%Y-%m-%d %H:%M %Z} (borrower's time)"
    return Decision(
        False,
        tuple(f.rule_id for f in findings),
        f"refused by {pack.version}: {reasons}; {later}",
        next_at,
        findings,
        pack.version,
    )


def _next_allowed(
    contact: Contact,
    ledger: Sequence[Contact],
    facts: DebtFacts,
    pack: RulePack,
    findings: tuple[Finding, ...],
) -> datetime | None:
    """Move to the latest moment any refusing rule names, re-check, repeat. Each rule names a
    moment before which it refuses for sure, so no earlier moment is allowed."""
    start = contact.at
    for _ in range(MAX_STEPS):
        retries = [f.retry_at for f in findings]
        if any(r is None for r in retries):
            return None
        moment = max(r for r in retries if r is not None)
        if moment <= contact.at or moment - start > HORIZON:
            return None
        contact = replace(contact, at=moment)
        findings = _findings(contact, ledger, facts, pack, ahead=True)
        if not findings:
            return moment.astimezone(facts.zone)
    return None


def judge(
    contact: Contact, ledger: Iterable[Contact], facts: DebtFacts, pack: RulePack
) -> tuple[Violation, ...]:
    """The rules a past contact broke, judged by what the ledger and the facts held at its time.

    ``ledger`` may contain the contact itself (recognised by id) and later contacts; only those
    not later than it count.
    """
    return tuple(
        Violation(f.rule_id, pack.version, contact, f.evidence, f.explanation)
        for f in _findings(contact, ledger, facts, pack, ahead=False)
    )


def judge_ledger(
    ledger: Sequence[Contact], facts: DebtFacts, pack: RulePack
) -> tuple[Violation, ...]:
    """Every violation in a debt's ledger, oldest contact first (what compliance records)."""
    mine = [c for c in ledger if c.person_ref == facts.person_ref and c.debt_id == facts.debt_id]
    mine.sort(key=lambda c: c.at)
    return tuple(v for c in mine for v in judge(c, ledger, facts, pack))
