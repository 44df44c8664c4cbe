"""Who besides the debtor may be contacted, and what they may learn (CN-04, CN-05, US-07)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from shared.contact_rules.ledger import Outcome, PartyKind, Recipient
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import ThirdPartyListParams, ThirdPartyParams
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, local_text, merge
from shared.vocabulary import Channel

Problems = list[tuple[str, tuple[str, ...], datetime | None]]


def build_emergency_contacts(rule: Rule, pack: RulePack) -> Evaluate:
    """CN-04: a third party only when the debtor is unreachable and the third party has not
    objected. Unreachable: the number is known invalid, or the latest ``N`` calls with the
    debtor (any party, either direction) were all unanswered attempts."""
    needed = cast(ThirdPartyParams, rule.params).failed_attempts_for_unreachable

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound or contact.recipient is not Recipient.THIRD_PARTY:
            return None
        problems: Problems = []
        for objection in s.facts.third_party_objections:
            if objection.third_party_ref == contact.third_party_ref and objection.at <= contact.at:
                when = local_text(objection.at, s.tz)
                problems.append((f"this third party objected to contact at {when}", (), None))
                break
        invalid = s.facts.debtor_unreachable_since
        if needed > 0 and (invalid is None or invalid > contact.at):
            calls = [
                e
                for e in s.history
                if e.channel is Channel.PHONE_CALL and e.recipient is Recipient.DEBTOR
            ][-needed:]
            reached = [e.id for e in calls if not e.outbound or e.outcome is not Outcome.ATTEMPTED]
            if len(calls) < needed or reached:
                text = (
                    f"the debtor is not shown unreachable: the last {needed} calls to them "
                    "were not all failed attempts"
                )
                problems.append((text, tuple(reached), None))
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_disclosure(rule: Rule, pack: RulePack) -> Evaluate:
    """CN-05: the debt is told to the debtor alone; an agency names itself in every contact."""

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound:
            return None
        problems: Problems = []
        if contact.recipient is Recipient.THIRD_PARTY and contact.debt_disclosed:
            problems.append(("the debt was disclosed to a third party", (), None))
        if contact.party.kind is PartyKind.AGENCY and contact.agency_named is False:
            problems.append((f"{contact.party} did not name itself in the contact", (), None))
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_third_party_list(rule: Rule, pack: RulePack) -> Evaluate:
    """US-07: a third party outside the short list only for a location inquiry, once per
    person, never mentioning the debt."""
    params = cast(ThirdPartyListParams, rule.params)
    allowed = frozenset(params.allowed_relations)

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound or contact.recipient is not Recipient.THIRD_PARTY:
            return None
        if contact.third_party_relation in allowed:
            return None
        relation = contact.third_party_relation or "unnamed relation"
        if not contact.location_inquiry:
            text = f"a third party ({relation}) may be contacted only to ask where the debtor is"
            return Finding(rule.id, text)
        problems: Problems = []
        if contact.debt_disclosed:
            problems.append(("the location inquiry mentioned the debt", (), None))
        earlier = tuple(
            e.id
            for e in s.history
            if e.outbound
            and e.location_inquiry
            and e.party == contact.party
            and e.third_party_ref == contact.third_party_ref
        )
        if len(earlier) >= params.location_inquiries_per_person:
            text = (
                f"{len(earlier)} location inquiries already made to this person; "
                f"at most {params.location_inquiries_per_person}"
            )
            problems.append((text, earlier, None))
        return merge(rule.id, problems) if problems else None

    return evaluate
