"""Account states that stop contact: holds, opt-outs, a cease request, an attorney, an illegal
debt. None of these ends by the clock alone (a hold with a known lifting time excepted)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from shared.contact_rules.ledger import Purpose, Recipient
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import HoldParams
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, local_text, merge
from shared.events.models import HoldReason
from shared.vocabulary import Channel

Problems = list[tuple[str, tuple[str, ...], datetime | None]]


def build_hold(rule: Rule, pack: RulePack) -> Evaluate:
    reasons = frozenset(cast(HoldParams, rule.params).reasons)

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound or contact.purpose is not Purpose.COLLECTION:
            return None
        active = [h for h in s.facts.holds if h.reason in reasons and h.active_at(contact.at)]
        if not active:
            return None
        ends = [h.lifted_at for h in active]
        retry = None if any(end is None for end in ends) else max(e for e in ends if e)
        held = ", ".join(f"{h.reason} since {local_text(h.placed_at, s.tz)}" for h in active)
        return Finding(rule.id, f"the account is on hold ({held})", (), retry)

    return evaluate


def build_preferences(rule: Rule, pack: RulePack) -> Evaluate:
    """Opted-out channels and a cease request, where no law of the pack already covers them."""

    def evaluate(s: Situation) -> Finding | None:
        if not s.contact.outbound:
            return None
        problems = _opted_out(s) + _ceased(s)
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_opt_out(rule: Rule, pack: RulePack) -> Evaluate:
    """US-06: opt-outs honoured per channel; every e-mail and text carries an opt-out notice."""

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound:
            return None
        problems = _opted_out(s)
        if contact.channel in (Channel.SMS, Channel.EMAIL) and contact.opt_out_notice is False:
            problems.append((f"the {contact.channel} carried no opt-out notice", (), None))
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_attorney_and_cease(rule: Rule, pack: RulePack) -> Evaluate:
    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound:
            return None
        problems = _ceased(s)
        since = s.facts.attorney_represented_since
        if since is not None and since <= contact.at and contact.recipient is Recipient.DEBTOR:
            text = f"the borrower is represented by an attorney since {local_text(since, s.tz)}"
            problems.append((text, (), None))
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_illegal_debt(rule: Rule, pack: RulePack) -> Evaluate:
    """A loan flagged illegal, or held as suspected illegal debt at the contact's time: every
    party reads it from the same hold, so none adds it on its own."""

    def evaluate(s: Situation) -> Finding | None:
        if not s.contact.outbound:
            return None
        suspected = any(
            h.reason is HoldReason.SUSPECTED_ILLEGAL_DEBT and h.active_at(s.contact.at)
            for h in s.facts.holds
        )
        if not (s.facts.illegal_debt or suspected):
            return None
        why = "held as suspected illegal debt" if suspected else "flagged illegal"
        return Finding(rule.id, f"the loan is {why}: it is never collected")

    return evaluate


def build_time_barred(rule: Rule, pack: RulePack) -> Evaluate:
    def evaluate(s: Situation) -> Finding | None:
        if s.contact.outbound and s.facts.time_barred and s.contact.threatens_suit:
            return Finding(rule.id, "the debt is time-barred and the contact threatened a suit")
        return None

    return evaluate


def _opted_out(s: Situation) -> Problems:
    opt_out = s.facts.opted_out(s.contact.channel, s.contact.at)
    if opt_out is None:
        return []
    text = f"the borrower opted out of {opt_out.channel} at {local_text(opt_out.at, s.tz)}"
    return [(text, (), None)]


def _ceased(s: Situation) -> Problems:
    cease = s.facts.cease_requested_at
    if cease is None or cease > s.contact.at or s.contact.purpose is Purpose.CEASE_CONFIRMATION:
        return []
    return [(f"the borrower asked to cease contact at {local_text(cease, s.tz)}", (), None)]
