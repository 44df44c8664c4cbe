"""Records of the credential registry: what they hold, and that a revocation is final."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import ALL_LENDERS, Role
from shared.auth.keys import hash_secret, new_api_key
from shared.auth.registry import CredentialIssuer, CredentialRecord, decode, merged

ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def record(key_id: str, api_key: str, revoked_at: datetime | None = None) -> CredentialRecord:
    return CredentialRecord(
        key_id=key_id,
        role=Role.LENDER,
        tenant="lender-1",
        secret_sha256=hash_secret(api_key).hex(),
        issued_at=ISSUED,
        revoked_at=revoked_at,
    )


def test_a_record_holds_the_hash_of_the_key_never_the_key() -> None:
    key_id, api_key = new_api_key()
    encoded = record(key_id, api_key).encode()
    assert api_key.encode() not in encoded
    assert api_key.rsplit("_", 1)[1].encode() not in encoded
    assert decode(encoded) == record(key_id, api_key)
    assert decode(b"{not json") is None
    assert decode(None) is None


def test_a_revocation_is_not_undone_by_a_later_record() -> None:
    key_id, api_key = new_api_key()
    revoked = record(key_id, api_key, revoked_at=ISSUED + timedelta(days=1))
    reissued = record(key_id, api_key).model_copy(update={"label": "again"})
    assert merged(revoked, reissued).revoked_at == revoked.revoked_at
    assert merged(None, reissued) == reissued


async def test_every_lender_is_a_tenant_of_auditors_only() -> None:
    issuer = CredentialIssuer("127.0.0.1:1", "unused")  # refused before anything is sent
    with pytest.raises(ValueError, match="auditors only"):
        await issuer.issue(Role.LENDER, ALL_LENDERS)
