"""A report's contact details are sealed under the notifier's own key; a newer report of the
same loan with the same details keeps what is stored (no re-sealing, no new hashes) unless
that was sealed or hashed under an older key, and different details are sealed anew."""

from services.notifier.adapters.contact_details import ContactVault
from shared.crypto import KeyRing
from shared.events.models import BorrowerContact, BorrowerProfile
from shared.vocabulary import Channel

TRANSIT = KeyRing.parse(KeyRing.generate_spec("t1"))
OLD = KeyRing.generate_spec("k1")
NEW = KeyRing.generate_spec("k2")


def profile(contact: BorrowerContact) -> BorrowerProfile:
    sealed = TRANSIT.seal(contact.model_dump_json().encode(), associated_data=b"bref_1")
    return BorrowerProfile(ref="bref_1", contact=sealed, locale="zh-CN", timezone="Asia/Shanghai")


ZHANG = BorrowerContact(name="张三", phone="+8613800138000", email="z@example.com")


def test_the_same_details_again_keep_what_is_stored() -> None:
    vault = ContactVault(TRANSIT, KeyRing.parse(NEW))
    first = vault.receive("lender", "L1", profile(ZHANG))
    again = vault.receive("lender", "L1", profile(ZHANG), first)
    assert again is first
    assert vault.open("lender", "L1", again.sealed) == ZHANG
    assert again.reachable == {Channel.SMS, Channel.EMAIL}


def test_new_details_are_sealed_and_hashed_anew() -> None:
    vault = ContactVault(TRANSIT, KeyRing.parse(NEW))
    first = vault.receive("lender", "L1", profile(ZHANG))
    moved = ZHANG.model_copy(update={"phone": "+8613900139000", "email": None})
    again = vault.receive("lender", "L1", profile(moved), first)
    assert again.sealed != first.sealed
    assert again.phone_refs == [vault.phone_ref("+8613900139000")] != first.phone_refs
    assert vault.open("lender", "L1", again.sealed) == moved
    assert again.reachable == {Channel.SMS}


def test_details_stored_under_an_older_key_are_sealed_and_hashed_under_the_current_one() -> None:
    before = ContactVault(TRANSIT, KeyRing.parse(OLD)).receive("lender", "L1", profile(ZHANG))
    rotated = ContactVault(TRANSIT, KeyRing.parse(f"{NEW},{OLD}"))
    again = rotated.receive("lender", "L1", profile(ZHANG), before)
    assert again.sealed["kid"] == "k2"
    assert again.phone_refs == [rotated.phone_ref(ZHANG.phone or "")]
    assert all(ref.startswith("k2:") for ref in again.phone_refs)


def test_details_stored_for_another_loan_are_not_taken_for_this_one() -> None:
    vault = ContactVault(TRANSIT, KeyRing.parse(NEW))
    other = vault.receive("lender", "L2", profile(ZHANG))
    again = vault.receive("lender", "L1", profile(ZHANG), other)
    assert again is not other
    assert vault.open("lender", "L1", again.sealed) == ZHANG
