"""Whether a due notification goes out now: the loan's state, then the contact rules.

The consumer cancels what an event stops, but a notification may be claimed for sending just
before that event is applied; so the sender asks again here, with the file it just read.
"""

from collections.abc import Sequence
from datetime import datetime

from services.notifier.domain.files import Case, LoanState, Notification, Preferences
from shared.contact_rules import (
    Contact,
    DebtFacts,
    Decision,
    Hold,
    OptOut,
    Placement,
    RulePack,
    check,
    tighten,
)
from shared.contact_rules.facts import binding_holds
from shared.contact_rules.ledger import PartyKind
from shared.contact_rules.legal_stage import stage_stops
from shared.contact_rules.limits import borrower_limits
from shared.contact_rules.sources import debt_id, message_contact
from shared.events.models import HoldReason
from shared.events.notifications import NotificationKind
from shared.vocabulary import Jurisdiction


def stop_reason(notification: Notification, file: Case, prefs: Preferences | None) -> str | None:
    """Why this notification must not go out at all any more, or None. The answer to a
    dispute is a notice the borrower asked for: neither the loan's end nor a hold stops it."""
    answer = notification.kind is NotificationKind.DISPUTE_OUTCOME
    if file.state is not LoanState.ACTIVE and not answer:
        return file.state_reason or file.state.value
    if holds := binding_holds(holds_of(file), answer_to_dispute=answer):
        return f"hold:{holds[0].reason}"
    if prefs is not None:
        if prefs.opted_out(notification.channel):
            return f"opted_out:{notification.channel.value}"
        if prefs.reported.cease_communication:
            return "cease_requested"
        if prefs.reported.attorney_represented:
            return "attorney_represented"
    if notification.kind is NotificationKind.REMINDER and stage_stops(
        file.legal_stage, PartyKind.LENDER
    ):
        return f"legal_stage:{file.legal_stage}"
    if notification.kind is NotificationKind.AGENCY_NOTICE:
        current = file.placement
        if current is None or current.assignment_id != notification.assignment_id:
            return "placement_ended"
    return None


def holds_of(file: Case) -> list[Hold]:
    return [Hold(HoldReason(h.reason), h.placed_at) for h in file.holds.values()]


def facts_of(
    file: Case, prefs: Preferences | None, *, answer_to_dispute: bool = False
) -> DebtFacts:
    """The contact-rules view of one loan and its borrower's preferences, with the holds that
    bind the message (``answer_to_dispute``: only those that stop even that answer)."""
    facts = DebtFacts(
        debt_id=debt_id(file.lender_id, file.loan_id),
        person_ref=file.borrower_ref,
        jurisdiction=file.jurisdiction,
        borrower_zone=file.timezone,
        holds=binding_holds(holds_of(file), answer_to_dispute=answer_to_dispute),
        placements=tuple(
            Placement(p.agency_id, p.placed_at, p.notice_sent_at, p.ended_at)
            for p in file.placements
        ),
    )
    if prefs is None:
        return facts
    replies = [OptOut(channel, at) for channel, at in prefs.reply_opt_outs.items()]
    return borrower_limits(prefs.reported, prefs.reported_at, replies).on(facts)


def intended_contact(notification: Notification, file: Case, at: datetime) -> Contact:
    """The lender's message as the ledger will hold it once sent."""
    return message_contact(
        file.lender_id,
        file.loan_id,
        file.borrower_ref,
        notification.id,
        notification.channel,
        at,
        notice=notification.kind is NotificationKind.AGENCY_NOTICE,
    )


def rules_decision(
    notification: Notification,
    file: Case,
    prefs: Preferences | None,
    ledger: Sequence[Contact],
    pack: RulePack,
    at: datetime,
) -> Decision:
    """The shared engine's answer for this message now, over every party's contacts: hours,
    caps, opt-outs, for the answer to a dispute as for any message (but only the holds that
    stop even that answer: ``binding_holds``)."""
    answer = notification.kind is NotificationKind.DISPUTE_OUTCOME
    facts = facts_of(file, prefs, answer_to_dispute=answer)
    return check(intended_contact(notification, file, at), ledger, facts, pack)


FIRST_PARTY = {
    Jurisdiction.US: {
        "US-01": {"applies_to": ["lender", "agency"]},
        "US-06": {"applies_to": ["lender", "agency"]},
    }
}
"""Regulation F binds debt collectors, not the creditor itself; the platform holds the lender's
own reminders to the same hours and opt-out notices (state laws often do too)."""


def notifier_pack(pack: RulePack) -> RulePack:
    """The pack the notifier judges its own messages by: the jurisdiction's, tightened."""
    overrides = FIRST_PARTY.get(pack.jurisdiction)
    return tighten(pack, overrides, label="first-party") if overrides else pack
