"""How a contact is made: its words (CN-06), field visits (CN-07), autodialed calls and texts
(US-12)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from shared.contact_rules import clock
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import AutodialParams, BannedPhraseParams, FieldVisitParams
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, local_text, merge
from shared.contact_rules.wording import banned_in
from shared.events.models import ConsentKind
from shared.vocabulary import Channel


def build_banned_phrases(rule: Rule, pack: RulePack) -> Evaluate:
    phrases = tuple(cast(BannedPhraseParams, rule.params).banned_phrases)

    def evaluate(s: Situation) -> Finding | None:
        text = s.contact.text
        if not s.contact.outbound or not text:
            return None
        found = banned_in(text, phrases)
        if not found:
            return None
        return Finding(rule.id, "the message contains banned wording: " + ", ".join(found))

    return evaluate


def build_field_visit(rule: Rule, pack: RulePack) -> Evaluate:
    params = cast(FieldVisitParams, rule.params)

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound or contact.channel is not Channel.FIELD_VISIT:
            return None
        problems: list[tuple[str, tuple[str, ...], datetime | None]] = []
        if params.recording_required and not contact.recording_id:
            problems.append(("the visit has no audio/video recording id", (), None))
        staff = contact.staff_count or 0
        if staff < params.min_staff:
            text = f"the visit is made by {staff} collector(s); at least {params.min_staff}"
            problems.append((text, (), None))
        return merge(rule.id, problems) if problems else None

    return evaluate


def build_autodial(rule: Rule, pack: RulePack) -> Evaluate:
    """US-12: an autodialed or prerecorded call or text to a mobile needs prior express consent;
    a revocation (or an opt-out of the channel) takes effect within the grace period."""
    grace = cast(AutodialParams, rule.params).revocation_business_days

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not (
            contact.outbound
            and contact.autodialed
            and contact.to_mobile
            and contact.channel in (Channel.PHONE_CALL, Channel.SMS)
        ):
            return None
        kind = ConsentKind.AUTODIALED_CALLS_AND_TEXTS
        records = [
            r
            for r in s.facts.consents
            if r.kind is kind
            and r.recorded_at <= contact.at
            and (r.channel is None or r.channel is contact.channel)
        ]
        granted = [r.recorded_at for r in records if r.granted]
        if not granted:
            return Finding(rule.id, "no prior express consent to autodialed calls and texts")
        revoked = [r.recorded_at for r in records if not r.granted]
        opt_out = s.facts.opted_out(contact.channel, contact.at)
        if opt_out is not None:
            revoked.append(opt_out.at)
        if not revoked or max(revoked) < max(granted):
            return None
        revocation = max(revoked)
        deadline = revocation
        if grace > 0:
            last_day = clock.add_business_days(s.local_day(revocation), grace)
            deadline = clock.day_start(last_day + timedelta(days=1), s.tz)
        if contact.at < deadline:
            return None
        text = (
            f"consent was revoked at {local_text(revocation, s.tz)} and must be honoured "
            f"within {grace} business days"
        )
        return Finding(rule.id, text)

    return evaluate
