"""Where the contact ledger's entries come from, written once for every service.

The notifier, the agency gateway and compliance each keep a ledger of every party's contacts
(the notifier and the gateway in a table, compliance in its log) and each turns the same events
into it: a lender's message from the notifier's notification events, an agency's contact from
its reported activity. This module is the one mapping: the debt id, the activity-to-outcome
map, the contact each event stands for, and the ledger row a service stores it as. Each
service keeps only the mapping of that row to its own table.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.contact_rules.ledger import POSSIBLE_OUTCOMES, Contact, Direction, Outcome, Party
from shared.events.assignments import (
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    DisputeRaised,
)
from shared.events.models import HoldPlaced, HoldReason
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.vocabulary import Channel

ACTIVITY_CHANNELS: Mapping[ActivityType, Channel] = {
    ActivityType.CALL: Channel.PHONE_CALL,
    ActivityType.SMS: Channel.SMS,
    ActivityType.EMAIL: Channel.EMAIL,
    ActivityType.LETTER: Channel.LETTER,
    ActivityType.VISIT: Channel.FIELD_VISIT,
}
"""The channel an agency's activity counts on in the ledger and the engine; a note is no
contact. The agencies' API speaks the activity words (``call``, ``visit``) everywhere."""

CHANNEL_ACTIVITIES: Mapping[str, ActivityType] = {
    channel.value: kind for kind, channel in ACTIVITY_CHANNELS.items()
}
"""The engine's channel words as activity types (``phone_call`` -> ``call``): what the
agencies' contact check took before it spoke the activity words, kept as deprecated aliases."""

ACTIVITY_OUTCOMES: Mapping[ActivityOutcome, Outcome] = {
    ActivityOutcome.NO_ANSWER: Outcome.ATTEMPTED,
    ActivityOutcome.FAILED: Outcome.ATTEMPTED,
    ActivityOutcome.REFUSED: Outcome.ATTEMPTED,
    ActivityOutcome.DELIVERED: Outcome.DELIVERED,
    ActivityOutcome.ANSWERED: Outcome.ANSWERED,
    ActivityOutcome.CONVERSATION: Outcome.CONVERSATION,
}
"""How far an agency's reported contact got, in the ledger's words."""

MESSAGE_OUTCOMES: Mapping[NotificationStatus, Outcome] = {
    NotificationStatus.SENT: Outcome.ATTEMPTED,
    NotificationStatus.DELIVERED: Outcome.DELIVERED,
}
"""The notification statuses that put a lender's message in the ledger, with its outcome."""

AGENCY_DISPUTE = "agency-dispute:"
"""Prefix of the hold an agency's dispute puts on a loan until the lender lifts it."""


def debt_id(lender_id: str, loan_id: str) -> str:
    """Loan ids are per lender: the ledger keys a debt by both."""
    return f"{lender_id}/{loan_id}"


def activity_channel(kind: ActivityType) -> Channel | None:
    """The contact channel an activity counts on; None for a note (no contact)."""
    return ACTIVITY_CHANNELS.get(kind)


def activity_outcome(channel: Channel, outcome: ActivityOutcome) -> Outcome:
    """The ledger outcome of an activity; one its channel cannot have counts as an attempt."""
    mapped = ACTIVITY_OUTCOMES[outcome]
    return mapped if mapped in POSSIBLE_OUTCOMES[channel] else Outcome.ATTEMPTED


def activity_id(agency_id: str, activity: str) -> str:
    return f"agency:{agency_id}:{activity}"


def activity_contact(lender_id: str, data: AgencyActivityRecorded) -> Contact | None:
    """The contact an agency's activity stands for; None for a note (no contact)."""
    return agency_contact(
        lender_id,
        data.loan_id,
        data.borrower_ref,
        data.agency_id,
        data.activity_id,
        data.type,
        Direction(data.direction.value),
        data.outcome,
        data.at,
        recording_id=data.recording_id,
        staff_count=data.staff_count,
    )


def agency_contact(
    lender_id: str,
    loan_id: str,
    borrower_ref: str,
    agency_id: str,
    activity: str,
    kind: ActivityType,
    direction: Direction,
    outcome: ActivityOutcome,
    at: datetime,
    *,
    recording_id: str | None = None,
    staff_count: int | None = None,
) -> Contact | None:
    """:func:`activity_contact` from the activity's fields (a logged entry's, say)."""
    channel = activity_channel(kind)
    if channel is None:
        return None
    return Contact(
        id=activity_id(agency_id, activity),
        debt_id=debt_id(lender_id, loan_id),
        person_ref=borrower_ref,
        party=Party.agency(agency_id),
        channel=channel,
        at=at,
        direction=direction,
        outcome=activity_outcome(channel, outcome),
        recording_id=recording_id,
        staff_count=staff_count,
    )


def message_id(notification_id: object) -> str:
    return f"notifier:{notification_id}"


def message_contact(
    lender_id: str,
    loan_id: str,
    borrower_ref: str,
    notification_id: object,
    channel: Channel,
    at: datetime,
    *,
    notice: bool,
    outcome: Outcome = Outcome.ATTEMPTED,
) -> Contact:
    """The lender's message (a reminder, or a notice naming the agency) as the ledger holds it."""
    return Contact(
        id=message_id(notification_id),
        debt_id=debt_id(lender_id, loan_id),
        person_ref=borrower_ref,
        party=Party.lender(),
        channel=channel,
        at=at,
        outcome=outcome,
        to_mobile=channel is Channel.SMS,
        opt_out_notice=True,
        agency_named=True if notice else None,
    )


def notification_contact(lender_id: str, data: NotificationChanged) -> Contact | None:
    """The ledger entry a notification event reports: a message sent (or delivered), the
    agency notice included; None for a status that is no contact (scheduled, cancelled ...)."""
    outcome = MESSAGE_OUTCOMES.get(data.status)
    if outcome is None:
        return None
    return message_contact(
        lender_id,
        data.loan_id,
        data.borrower_ref,
        data.notification_id,
        data.channel,
        data.at,
        notice=data.kind is NotificationKind.AGENCY_NOTICE,
        outcome=outcome,
    )


def dispute_hold(data: DisputeRaised) -> HoldPlaced:
    """An agency's dispute holds the loan for every party (POL-01) until the lender lifts the
    hold it names."""
    return HoldPlaced(
        loan_id=data.loan_id,
        hold_id=f"{AGENCY_DISPUTE}{data.dispute_id}",
        reason=HoldReason.DISPUTE,
        placed_at=data.raised_at,
    )


def ledger_row(contact: Contact, lender_id: str, loan_id: str) -> dict[str, Any]:
    """The row a service stores a ledger contact as (its own table may rename the columns)."""
    return {
        "id": contact.id,
        "lender_id": lender_id,
        "loan_id": loan_id,
        "borrower_ref": contact.person_ref,
        "agency_id": contact.party.agency_id,
        "channel": contact.channel.value,
        "direction": contact.direction.value,
        "outcome": contact.outcome.value,
        "at": contact.at,
        "recording_id": contact.recording_id,
        "staff_count": contact.staff_count,
    }


def contact_of_row(row: Mapping[str, Any]) -> Contact:
    """A stored ledger row as a contact (the inverse of :func:`ledger_row`)."""
    agency = row["agency_id"]
    return Contact(
        id=row["id"],
        debt_id=debt_id(row["lender_id"], row["loan_id"]),
        person_ref=row["borrower_ref"],
        party=Party.agency(agency) if agency else Party.lender(),
        channel=Channel(row["channel"]),
        at=row["at"],
        direction=Direction(row["direction"]),
        outcome=Outcome(row["outcome"]),
        recording_id=row.get("recording_id"),
        staff_count=row.get("staff_count"),
    )
