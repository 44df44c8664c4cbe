"""The pure parts of re-sealing: associated data that binds a value to its row, which values
are stale, and the agency gateway's contact keys."""

import pytest
from sqlalchemy.dialects import postgresql

from services.agency_gateway.adapters.contact_details import CONTACT, ContactKeys
from shared.crypto import DecryptionError, KeyRing, SealedValue
from shared.db.reseal import resealed_value, stale

OLD = KeyRing.generate_spec("k1")
NEW = KeyRing.generate_spec("k2")
TRANSIT = KeyRing.parse(KeyRing.generate_spec("t1"))
CASE = {"lender_id": "lender-a", "loan_id": "L-1", "borrower_ref": "bref_1"}


def test_associated_data_is_the_rows_identity() -> None:
    assert CONTACT.associated_data(CASE) == b"lender-a\x1fL-1"


def test_a_stale_value_is_resealed_under_the_current_key_and_still_opens() -> None:
    old_ring, rotated = KeyRing.parse(OLD), KeyRing.parse(f"{NEW},{OLD}")
    row = {**CASE, "contact_sealed": CONTACT.seal(old_ring, b"contact", CASE)}
    assert CONTACT.open(rotated, row) == b"contact"  # the old id stays readable
    value = resealed_value(CONTACT, rotated, row)
    assert value is not None
    assert value["kid"] == "k2"
    assert CONTACT.open(KeyRing.parse(NEW), {**row, "contact_sealed": value}) == b"contact"
    assert resealed_value(CONTACT, rotated, {**row, "contact_sealed": value}) is None


def test_a_value_moved_to_another_row_does_not_open() -> None:
    ring = KeyRing.parse(OLD)
    row = {**CASE, "contact_sealed": CONTACT.seal(ring, b"contact", CASE)}
    with pytest.raises(DecryptionError):
        CONTACT.open(ring, {**row, "loan_id": "L-2"})


def test_an_empty_value_is_left_alone() -> None:
    assert resealed_value(CONTACT, KeyRing.parse(NEW), {**CASE, "contact_sealed": None}) is None


def test_stale_rows_are_those_under_another_key_id() -> None:
    sql = str(
        stale(CONTACT, "k2").compile(
            dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
            compile_kwargs={"literal_binds": True},
        )
    )
    assert "contact_sealed IS NOT NULL" in sql
    assert "(collection_cases.contact_sealed ->> 'kid') IS DISTINCT FROM 'k2'" in sql


def test_the_gateway_stores_contacts_under_its_own_key_not_the_transit_key() -> None:
    keys = ContactKeys(transit=TRANSIT, storage=KeyRing.parse(OLD))
    in_event = TRANSIT.seal(b"contact", associated_data=CASE["borrower_ref"].encode())
    stored = keys.stored(in_event, CASE)
    assert stored["kid"] == "k1"
    row = {**CASE, "contact_sealed": stored}
    assert CONTACT.open(keys.storage, row) == b"contact"
    with pytest.raises(DecryptionError):
        TRANSIT.open(SealedValue.model_validate(stored), CONTACT.associated_data(CASE))


def test_contacts_stored_as_received_are_resealed_from_the_transit_key() -> None:
    keys = ContactKeys(transit=TRANSIT, storage=KeyRing.parse(OLD))
    as_received = TRANSIT.seal(b"contact", associated_data=b"bref_1").model_dump()
    job = keys.reseal_job()
    assert job.opener is not None
    value = resealed_value(
        CONTACT, keys.storage, {**CASE, "contact_sealed": as_received}, job.opener
    )
    assert value is not None
    assert CONTACT.open(keys.storage, {**CASE, "contact_sealed": value}) == b"contact"


def test_data_and_transit_keys_may_not_share_key_ids() -> None:
    with pytest.raises(ValueError, match="share key ids"):
        ContactKeys(transit=TRANSIT, storage=KeyRing.parse(KeyRing.generate_spec("t1")))
