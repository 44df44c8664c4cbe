"""Sealing personal data, pseudonyms, audit entries and log redaction."""

import base64
import json
import logging
from uuid import uuid4

import pytest

from services.compliance.domain import audit_entry, canonical_bytes, leaf_hash
from shared.crypto import DecryptionError, KeyRing, Pseudonymizer, SealedValue
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.models import BorrowerProfile, OverdueReported
from shared.events.money import Money
from shared.logging import configure_logging


def test_sealed_values_open_only_with_their_key_and_context() -> None:
    ring = KeyRing.parse(KeyRing.generate_spec("k1"))
    sealed = ring.seal(b"secret", associated_data=b"bref_1")
    assert b"secret" not in base64.b64decode(sealed.ct)
    assert ring.open(sealed, associated_data=b"bref_1") == b"secret"
    with pytest.raises(DecryptionError):
        ring.open(sealed, associated_data=b"bref_2")
    other = KeyRing.parse(KeyRing.generate_spec("k1"))
    with pytest.raises(DecryptionError):
        other.open(sealed, associated_data=b"bref_1")


def test_a_rotated_ring_still_opens_old_values() -> None:
    old_spec = KeyRing.generate_spec("k1")
    sealed = KeyRing.parse(old_spec).seal(b"x")
    rotated = KeyRing.parse(f"{KeyRing.generate_spec('k2')},{old_spec}")
    assert rotated.open(sealed) == b"x"
    assert rotated.seal(b"y").kid == "k2"


def test_pseudonyms_are_stable_per_lender_and_reveal_nothing() -> None:
    pseudonyms = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    assert pseudonyms.reference("L1", "B-1") == pseudonyms.reference("L1", "B-1")
    assert pseudonyms.reference("L1", "B-1") != pseudonyms.reference("L2", "B-1")
    assert "B-1" not in pseudonyms.reference("L1", "B-1")


def test_audit_entries_drop_sealed_contact_details() -> None:
    ring = KeyRing.parse(KeyRing.generate_spec("t1"))
    data = OverdueReported(
        loan_id="L-1",
        borrower=BorrowerProfile(
            ref="bref_x", contact=ring.seal(b"{}"), locale="zh-CN", timezone="Asia/Shanghai"
        ),
        jurisdiction="CN",
        product="p",
        amount_overdue=Money(amount="1.00", currency="CNY"),
        due_date="2026-11-01",
        days_past_due=27,
        as_of="2026-11-28T09:00:00+08:00",
    )
    envelope = OVERDUE_REPORTED.envelope(source="/t", subject="L-1", tenant="lender", data=data)
    entry = audit_entry(envelope)
    assert "contact" not in entry["data"]["borrower"]
    assert entry["data"]["borrower"]["ref"] == "bref_x"
    encoded = canonical_bytes(entry)
    assert json.loads(encoded) == entry
    assert leaf_hash(encoded) != leaf_hash(encoded + b" ")
    assert len(leaf_hash(encoded)) == 32
    assert SealedValue.model_validate(envelope.data["borrower"]["contact"]).kid == "t1"


def test_logs_never_carry_personal_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", json=True)
    logging.getLogger("any").info("x")
    import structlog

    structlog.get_logger("t").info(
        "borrower seen",
        name="张三",
        phone="+8613800138000",
        borrower={"email": "a@b.c"},
        loan_id="L-1",
        request_id=str(uuid4()),
    )
    out = capsys.readouterr().out
    assert "张三" not in out
    assert "+8613800138000" not in out
    assert "a@b.c" not in out
    assert "L-1" in out
