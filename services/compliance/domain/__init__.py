"""Compliance's pure domain: audit entries and their canonical bytes."""

from services.compliance.domain.entries import (
    NewEntry,
    audit_entry,
    canonical_bytes,
    leaf_hash,
    new_entry,
)

__all__ = ["NewEntry", "audit_entry", "canonical_bytes", "leaf_hash", "new_entry"]
