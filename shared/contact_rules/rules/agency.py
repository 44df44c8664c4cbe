"""Rules about the agency's standing: told to the borrower (CN-09), placed (CN-10), validation
notice (US-04), collection paused by a dispute until verification (US-05)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from shared.contact_rules import clock
from shared.contact_rules.facts import DebtFacts, Placement
from shared.contact_rules.ledger import REACHED, Contact, Party, PartyKind, Purpose
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import ValidationParams
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, local_text


def _placement(facts: DebtFacts, agency_id: str, at: datetime) -> Placement | None:
    active = [p for p in facts.placements if p.agency_id == agency_id and p.active_at(at)]
    return max(active, key=lambda p: p.placed_at) if active else None


def _agency_contact(contact: Contact) -> str | None:
    if contact.outbound and contact.party.kind is PartyKind.AGENCY:
        return contact.party.agency_id
    return None


def build_agency_notice(rule: Rule, pack: RulePack) -> Evaluate:
    def evaluate(s: Situation) -> Finding | None:
        agency = _agency_contact(s.contact)
        if agency is None:
            return None
        placement = _placement(s.facts, agency, s.contact.at)
        if placement is None:
            return None
        notified = placement.borrower_notified_at
        if notified is not None and notified <= s.contact.at:
            return None
        when = "has not been sent" if notified is None else f"is due {local_text(notified, s.tz)}"
        text = (
            f"the borrower has not been told that agency {agency} holds the account: notice {when}"
        )
        return Finding(rule.id, text, (), notified)

    return evaluate


def build_placement(rule: Rule, pack: RulePack) -> Evaluate:
    def evaluate(s: Situation) -> Finding | None:
        agency = _agency_contact(s.contact)
        if agency is None or _placement(s.facts, agency, s.contact.at) is not None:
            return None
        later = [
            p.placed_at
            for p in s.facts.placements
            if p.agency_id == agency and p.placed_at > s.contact.at
        ]
        text = (
            f"agency {agency} holds no placement of this debt at this time (access ends at recall)"
        )
        return Finding(rule.id, text, (), min(later) if later else None)

    return evaluate


def validation_period_end(facts: DebtFacts, agency_id: str, pack: RulePack) -> datetime | None:
    """When the agency's validation period ends (US-04), or ``None`` before its notice is sent:
    ``period_days`` after receipt, receipt assumed ``assumed_receipt_business_days`` business
    days after sending when not known."""
    params = cast(ValidationParams, pack.rule("US-04").params)
    notices = [n for n in facts.validation_notices if n.agency_id == agency_id]
    if not notices:
        return None
    notice = min(notices, key=lambda n: n.sent_at)
    tz = facts.zone
    if notice.received_at is not None:
        receipt = notice.received_at.astimezone(tz).date()
    else:
        sent = notice.sent_at.astimezone(tz).date()
        receipt = clock.add_business_days(sent, params.assumed_receipt_business_days)
    return clock.day_start(receipt + timedelta(days=params.period_days + 1), tz)


def build_validation_notice(rule: Rule, pack: RulePack) -> Evaluate:
    params = cast(ValidationParams, rule.params)

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        agency = _agency_contact(contact)
        if agency is None or contact.purpose is Purpose.VALIDATION_NOTICE:
            return None
        first = next(
            (e for e in s.history if e.party == contact.party and e.outcome in REACHED), None
        )
        if first is None:
            return None
        first_day = s.local_day(first.at)
        deadline = clock.day_start(first_day + timedelta(days=params.notice_within_days + 1), s.tz)
        if contact.at < deadline or _notice_sent(s, contact.party, agency):
            return None
        text = (
            f"agency {agency} first communicated on {first_day} and sent no validation notice "
            f"within {params.notice_within_days} days"
        )
        return Finding(rule.id, text, (first.id,), None)

    return evaluate


def _notice_sent(s: Situation, party: Party, agency: str) -> bool:
    at = s.contact.at
    if any(n.agency_id == agency and n.sent_at <= at for n in s.facts.validation_notices):
        return True
    return any(e.party == party and e.purpose is Purpose.VALIDATION_NOTICE for e in s.history)


def build_dispute(rule: Rule, pack: RulePack) -> Evaluate:
    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        agency = _agency_contact(contact)
        if agency is None or contact.purpose is not Purpose.COLLECTION:
            return None
        period_end = validation_period_end(s.facts, agency, pack)
        for dispute in s.facts.disputes:
            if not (dispute.written and dispute.open_at(contact.at)):
                continue
            if dispute.agency_id not in (None, agency):
                continue
            if period_end is not None and dispute.received_at >= period_end:
                continue
            received = local_text(dispute.received_at, s.tz)
            text = (
                f"a written {dispute.kind} dispute received {received} within the validation "
                "period awaits verification: collection stops until it is sent"
            )
            return Finding(rule.id, text, (), dispute.verification_sent_at)
        return None

    return evaluate
