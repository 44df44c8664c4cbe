"""Audit entries, free of I/O: what of an event is kept, its canonical bytes and leaf hash.

Compliance keeps pseudonyms, never personal data: sealed values (which it has no key for
anyway) are dropped before an entry is made, so the log holds nothing to erase later. A data
request's answer is logged as a summary (who answered, what kind, when, how many items), never
its items.

**Canonical encoding** (what a leaf hashes, ``SHA-256(0x00 ‖ bytes)``): the entry as JSON in
UTF-8, object keys sorted by code point at every depth, no insignificant whitespace, strings
unescaped beyond what JSON requires, numbers and strings exactly as the event carried them. The
stored bytes are authoritative: every entry the API returns carries them (base64, ``canonical``)
next to the parsed ``entry``, so a verifier hashes bytes and never re-serialises.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

import orjson

from shared.crypto import without_sealed_values
from shared.events.envelope import Envelope
from shared.tlog.merkle import leaf_hash as rfc9162_leaf_hash

ANSWERED = "collections.borrower.data-request-answered"
ANSWER_FIELDS = ("request_id", "loan_id", "borrower_ref", "kind", "service", "answered_at")
"""What of a data request's answer is logged besides its counts: who answered which request,
when. Never the answer's items (a sealed answer is personal data compliance cannot open)."""
ANSWER_PARTS = ("personal_data", "shared_with", "contacts", "retention")


def audit_entry(envelope: Envelope) -> dict[str, Any]:
    entry: dict[str, Any] = envelope.model_dump(mode="json")
    data = entry["data"]
    entry["data"] = (
        answer_summary(data) if envelope.type == ANSWERED else without_sealed_values(data)
    )
    return entry


def answer_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A data request's answer as the log keeps it: the request, the service, the kind and
    the time, whether the answer was sealed, and how many items of each part an answer in the
    clear gave (``counts``, with the categories a deletion ``erased``; null for a sealed one).
    No value of the answer enters the log: the borrower's copy is intake's."""
    summary = {name: data[name] for name in ANSWER_FIELDS if name in data}
    answer = data.get("answer")
    summary["sealed"] = data.get("sealed_answer") is not None
    summary["counts"] = None
    if isinstance(answer, dict):
        counts = {part: len(answer.get(part) or []) for part in ANSWER_PARTS}
        retention = answer.get("retention") or []
        counts["erased"] = sum(1 for item in retention if item.get("erased") is True)
        summary["counts"] = counts
    return summary


def canonical_bytes(entry: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace: the bytes a verifier re-hashes."""
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def leaf_hash(entry_bytes: bytes) -> bytes:
    return rfc9162_leaf_hash(entry_bytes)


@dataclass(frozen=True)
class NewEntry:
    """An entry about to be appended, with the columns its filters read."""

    event_id: UUID
    event_type: str
    subject: str
    lender_id: str
    event_time: datetime
    loan_id: str | None
    agency_id: str | None
    borrower_ref: str | None
    canonical: bytes

    @cached_property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical)

    def row(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "subject": self.subject,
            "tenant_id": self.lender_id,
            "event_time": self.event_time,
            "loan_id": self.loan_id,
            "agency_id": self.agency_id,
            "borrower_ref": self.borrower_ref,
            "entry": self.canonical,
            "leaf_hash": self.leaf_hash,
        }


def new_entry(envelope: Envelope) -> NewEntry:
    entry = audit_entry(envelope)
    data = entry["data"]
    borrower = data.get("borrower")
    borrower_ref = data.get("borrower_ref") or (borrower or {}).get("ref")
    return NewEntry(
        event_id=envelope.id,
        event_type=envelope.type,
        subject=envelope.subject,
        lender_id=envelope.tenantid,
        event_time=envelope.time,
        loan_id=data.get("loan_id") if isinstance(data.get("loan_id"), str) else None,
        agency_id=data.get("agency_id") if isinstance(data.get("agency_id"), str) else None,
        borrower_ref=borrower_ref if isinstance(borrower_ref, str) else None,
        canonical=canonical_bytes(entry),
    )
