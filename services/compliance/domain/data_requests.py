"""Compliance's answer to a borrower's data request, free of I/O.

Compliance holds pseudonyms and hashes only: no name, number, address or message text, and no
key to the sealed values other services hold. So its answer is in the clear and holds no
personal data. **Access**: the contacts its log records with the borrower (the lender's messages
and every agency's calls, visits and messages, each with its time, party, channel, kind and
outcome, and the rules it was found in breach of, if any), across every loan of the borrower at
that lender. **Deletion**: nothing is erased (the log is append-only, and what it holds is no
personal data); its entries are kept as collection records (``collection_records``), for each
jurisdiction of the borrower's loans, from the last contact.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contact_rules.sources import activity_channel, activity_id, message_id
from shared.events.assignments import ActivityType
from shared.events.borrowers import (
    ContactRecord,
    DataAnswer,
    DataRequested,
    DataRequestKind,
    RetentionItem,
)
from shared.personal_data import Keeping
from shared.vocabulary import Jurisdiction

SERVICE = "compliance"
REQUESTED = "collections.borrower.data-requested"
REPORTED = "collections.loan.overdue-reported"
ACTIVITY = "collections.agency.activity-recorded"
MESSAGES = frozenset(
    {"collections.notification.sent", "collections.notification.agency-notice-sent"}
)
DELIVERED = "collections.notification.delivered"
CATEGORY = "audit_log_entries"
NOTHING_PERSONAL = (
    "the audit log is append-only and holds pseudonyms and hashes only: no names, numbers or "
    "addresses"
)

KeepingOf = Callable[[Jurisdiction, datetime], Keeping]
"""What the law keeps of collection records in a jurisdiction, from the last activity
(``shared.personal_data.collection_records``)."""


@dataclass(frozen=True)
class BorrowerEntry:
    """One log entry of the borrower (at one lender), as the answer reads it."""

    leaf_index: int
    event_id: str
    type: str
    loan_id: str | None
    time: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    """A consumed data request: the lender it was made at, its event and its data."""

    lender_id: str
    event_id: str
    data: DataRequested


def first_asked(request: Request, entries: Sequence[BorrowerEntry]) -> bool:
    """True unless the log holds an earlier entry of the same request (intake published it
    again): a request is answered once, whatever redelivers it."""
    own = next((e.leaf_index for e in entries if e.event_id == request.event_id), None)
    return not any(
        e.type == REQUESTED
        and e.data.get("request_id") == request.data.request_id
        and (own is None or e.leaf_index < own)
        and e.event_id != request.event_id
        for e in entries
    )


def contacts(
    entries: Sequence[BorrowerEntry], breached: Mapping[str, Sequence[str]]
) -> list[ContactRecord]:
    """The contacts logged with the borrower, oldest first, each once (a message logged sent,
    then delivered, is one contact, delivered). ``breached``: rules standing against a contact,
    by contact id."""
    delivered = {str(e.data.get("notification_id")) for e in entries if e.type == DELIVERED}
    found: dict[str, ContactRecord] = {}
    for e in entries:
        made = _contact(e, delivered)
        if made is None or made[0] in found:
            continue
        contact_id, record = made
        rules = breached.get(contact_id)
        if rules:
            record = record.model_copy(
                update={"outcome": f"{record.outcome}; found in breach of {', '.join(rules)}"}
            )
        found[contact_id] = record
    return sorted(found.values(), key=lambda c: c.at)


def _contact(e: BorrowerEntry, delivered: set[str]) -> tuple[str, ContactRecord] | None:
    d = e.data
    if e.type in MESSAGES:
        notification = str(d["notification_id"])
        outcome = "delivered" if notification in delivered else str(d.get("status") or "sent")
        record = ContactRecord(
            at=d["at"], party="lender", channel=d["channel"], kind=d["kind"], outcome=outcome
        )
        return message_id(notification), record
    if e.type == ACTIVITY:
        kind = ActivityType(d["type"])
        channel = activity_channel(kind)
        if channel is None:  # a note is no contact
            return None
        record = ContactRecord(
            at=d["at"],
            party=f"agency:{d['agency_id']}",
            channel=channel.value,
            kind=kind.value,
            outcome=d["outcome"],
        )
        return activity_id(d["agency_id"], d["activity_id"]), record
    return None


def retention(entries: Sequence[BorrowerEntry], keeping: KeepingOf) -> list[RetentionItem]:
    """What a deletion keeps of the log: its entries, as collection records of each
    jurisdiction the borrower's loans were reported in, kept from the last contact (or the
    last entry, with no contact)."""
    jurisdiction_of = {
        e.loan_id: Jurisdiction(e.data["jurisdiction"])
        for e in entries
        if e.type == REPORTED and e.loan_id is not None
    }
    last: dict[Jurisdiction, datetime] = {}
    for jurisdiction in set(jurisdiction_of.values()):
        loans = {loan for loan, j in jurisdiction_of.items() if j is jurisdiction}
        own = [e for e in entries if e.loan_id in loans]
        made = [_at(e.data["at"]) for e in own if e.type in MESSAGES or e.type == ACTIVITY]
        last[jurisdiction] = max(made or [e.time for e in own])
    if not last:
        return [RetentionItem(category=CATEGORY, erased=False, legal_basis=NOTHING_PERSONAL)]
    items = []
    for jurisdiction in sorted(last):
        kept = keeping(jurisdiction, last[jurisdiction])
        items.append(
            RetentionItem(
                category=CATEGORY,
                erased=False,
                legal_basis=f"{kept.legal_basis}; {NOTHING_PERSONAL}",
                kept_until=kept.until,
            )
        )
    return items


def answer(
    request: Request,
    entries: Sequence[BorrowerEntry],
    breached: Mapping[str, Sequence[str]],
    keeping: KeepingOf,
) -> DataAnswer:
    """Compliance's answer: no personal data (it holds none); the contacts for an access, what
    is kept and why for a deletion (nothing is erased)."""
    if request.data.kind is DataRequestKind.ACCESS:
        return DataAnswer(service=SERVICE, contacts=contacts(entries, breached))
    return DataAnswer(service=SERVICE, retention=retention(entries, keeping))


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)
