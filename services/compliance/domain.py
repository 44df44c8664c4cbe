"""Audit entries, free of I/O: what of an event is kept, and its RFC 6962 leaf hash.

Compliance keeps pseudonyms, never personal data: sealed values (which it has no key for
anyway) are dropped before an entry is made, so the log holds nothing to erase later.
"""

import hashlib
from typing import Any

import orjson

from shared.crypto import without_sealed_values
from shared.events.envelope import Envelope

LEAF_PREFIX = b"\x00"


def audit_entry(envelope: Envelope) -> dict[str, Any]:
    entry: dict[str, Any] = envelope.model_dump(mode="json")
    entry["data"] = without_sealed_values(entry["data"])
    return entry


def canonical_bytes(entry: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace: the bytes a verifier re-hashes."""
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def leaf_hash(entry_bytes: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + entry_bytes).digest()
