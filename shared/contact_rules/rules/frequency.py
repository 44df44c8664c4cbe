"""Caps on calls, counted per person per debt (never per phone number) in the borrower's days.

CN-02 caps connected calls and CN-03 unanswered attempts per local day. US-02 is Regulation F's
presumption: more than ``max_calls`` calls in ``window_days`` consecutive days, or any call within
``after_conversation_days`` of a telephone conversation (the conversation's day is day 1); US-03
says what counts: calls only, a conversation whoever started it, and not calls made within
``consent_exclusion_days`` of the person's direct consent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from shared.contact_rules import clock
from shared.contact_rules.ledger import CONNECTED, Contact, Outcome, Recipient
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import (
    CallCountingParams,
    CallFrequencyParams,
    DailyCapParams,
    MessageCapParams,
)
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, merge
from shared.events.models import ConsentKind
from shared.vocabulary import Channel

UNANSWERED = frozenset({Outcome.ATTEMPTED})


def build_connected_cap(rule: Rule, pack: RulePack) -> Evaluate:
    return _call_cap(rule, CONNECTED, "connected calls")


def build_unanswered_cap(rule: Rule, pack: RulePack) -> Evaluate:
    return _call_cap(rule, UNANSWERED, "unanswered call attempts")


def build_message_cap(rule: Rule, pack: RulePack) -> Evaluate:
    """POL-03: a borrower gets at most ``max_per_day`` texts and e-mails a day, whoever sends
    them: the lender's reminders and every agency's messages count together."""
    params = cast(MessageCapParams, rule.params)
    channels = frozenset(params.channels)
    return _per_day(
        rule, params.max_per_day, params.scope, "messages", lambda e: e.channel in channels
    )


def _call_cap(rule: Rule, outcomes: frozenset[Outcome], what: str) -> Evaluate:
    params = cast(DailyCapParams, rule.params)

    def kind(entry: Contact) -> bool:
        return entry.channel is Channel.PHONE_CALL and entry.outcome in outcomes

    def lifted(s: Situation) -> bool:
        consent = ConsentKind.CALLS_BEYOND_DAILY_CAP
        return params.consent_lifts and s.facts.consents_at(consent, s.contact.at)

    return _per_day(rule, params.max_per_day, params.scope, what, kind, lifted)


def _per_day(
    rule: Rule,
    cap: int,
    scope: str,
    what: str,
    kind: Callable[[Contact], bool],
    lifted: Callable[[Situation], bool] = lambda _s: False,
) -> Evaluate:
    """At most ``cap`` outbound contacts of ``kind`` to the debtor per borrower's day, counted
    across every party or the contact's own party, unless ``lifted`` (a consent)."""
    every_party = scope == "all_parties"

    def counts(entry: Contact, contact: Contact) -> bool:
        return (
            kind(entry)
            and entry.outbound
            and entry.recipient is Recipient.DEBTOR
            and (every_party or entry.party == contact.party)
        )

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not counts(contact, contact) or lifted(s):
            return None
        start = s.day_start()
        counted = tuple(e.id for e in s.history if e.at >= start and counts(e, contact))
        if len(counted) < cap:
            return None
        who = "all parties together" if every_party else str(contact.party)
        text = (
            f"{len(counted)} {what} already on {s.day} (borrower's day, {who}); "
            f"at most {cap} per day"
        )
        return Finding(rule.id, text, counted, s.day_start(1))

    return evaluate


def build_call_frequency(rule: Rule, pack: RulePack) -> Evaluate:
    params = cast(CallFrequencyParams, rule.params)
    counting = cast(CallCountingParams, pack.rule("US-03").params)
    channels = frozenset(counting.counted_channels)
    exclusion = timedelta(days=counting.consent_exclusion_days)
    every_party = params.scope == "all_parties"

    def excluded(call: Contact, s: Situation) -> bool:
        record = s.facts.consent_at(ConsentKind.DIRECT_CALL_CONSENT, call.at, call.channel)
        return record is not None and record.granted and call.at - record.recorded_at < exclusion

    def in_scope(entry: Contact, contact: Contact) -> bool:
        return entry.recipient is Recipient.DEBTOR and (every_party or entry.party == contact.party)

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not (contact.outbound and contact.channel in channels and in_scope(contact, contact)):
            return None
        if excluded(contact, s):
            return None
        problems: list[tuple[str, tuple[str, ...], datetime | None]] = []
        window_start = s.day_start(1 - params.window_days)
        counted = [
            e
            for e in s.history
            if e.at >= window_start
            and e.outbound
            and e.channel in channels
            and in_scope(e, contact)
            and not excluded(e, s)
        ]
        if len(counted) >= params.max_calls:
            retry = None
            if params.max_calls > 0:
                days = sorted((s.local_day(e.at) for e in counted), reverse=True)
                oldest_kept = days[params.max_calls - 1]
                retry = clock.day_start(oldest_kept + timedelta(days=params.window_days), s.tz)
            text = (
                f"{len(counted)} calls already in the {params.window_days} days ending "
                f"{s.day} (borrower's days); at most {params.max_calls}"
            )
            problems.append((text, tuple(e.id for e in counted), retry))
        if params.after_conversation_days > 0:
            since = s.day_start(1 - params.after_conversation_days)
            conversations = [
                e
                for e in s.history
                if e.at >= since
                and e.channel is Channel.PHONE_CALL
                and e.outcome is Outcome.CONVERSATION
                and in_scope(e, contact)
            ]
            if conversations:
                latest = conversations[-1]
                day = s.local_day(latest.at)
                retry_at = clock.day_start(
                    day + timedelta(days=params.after_conversation_days), s.tz
                )
                text = (
                    f"a telephone conversation ({latest.direction}) on {day} opens "
                    f"{params.after_conversation_days} days without calls"
                )
                problems.append((text, (latest.id,), retry_at))
        return merge(rule.id, problems) if problems else None

    return evaluate
