"""Borrowers' contact details: opened from events, stored under notifier's own data key.

Contacts arrive sealed under the transit key; the notifier re-seals them under its own data
key, bound to the lender and loan (a sealed value moved to another row does not open), and
keeps keyed hashes of the phone number so a STOP reply finds the borrower without a plaintext
column. The hash key is derived from each data key, so every key id in the ring still finds
numbers stored before a rotation; a loan's hashes are renewed with its next report (kept as
they are only when they and the sealed details are under the current key and the details did
not change), so an old key leaves the ring only once re-sealing is done and the loans have been
reported again.
"""

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property

import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.notifier.adapters.tables import loans
from services.notifier.application.ports import StoredContactDetails
from shared.crypto import DecryptionError, KeyRing, SealedValue
from shared.db.reseal import SealedColumn
from shared.events.borrowers import DataAnswer, seal_answer
from shared.events.models import BorrowerContact, BorrowerProfile
from shared.vocabulary import Channel

CONTACT = SealedColumn(loans, "contact_sealed", bound_to=("lender_id", "loan_id"))


@dataclass(frozen=True)
class ContactVault:
    transit: KeyRing
    storage: KeyRing

    def receive(
        self,
        lender_id: str,
        loan_id: str,
        borrower: BorrowerProfile,
        stored: StoredContactDetails | None = None,
    ) -> StoredContactDetails:
        """Open an event's contact and seal it for this service's own table; ``stored`` (the
        loan's details as stored now) is kept as it is when the contact is the same and it is
        sealed and hashed under the current key: nothing re-sealed, no number hashed again."""
        plaintext = self.transit.open(borrower.contact, associated_data=borrower.ref.encode())
        contact = BorrowerContact.model_validate_json(plaintext)
        if stored is not None and self._unchanged(lender_id, loan_id, plaintext, contact, stored):
            return stored
        row = {"lender_id": lender_id, "loan_id": loan_id}
        refs = [self.phone_ref(contact.phone)] if contact.phone else []
        reachable = frozenset(
            channel
            for channel, address in ((Channel.SMS, contact.phone), (Channel.EMAIL, contact.email))
            if address
        )
        return StoredContactDetails(CONTACT.seal(self.storage, plaintext, row), refs, reachable)

    def _unchanged(
        self,
        lender_id: str,
        loan_id: str,
        plaintext: bytes,
        contact: BorrowerContact,
        stored: StoredContactDetails,
    ) -> bool:
        primary = self.storage.primary
        if stored.sealed.get("kid") != primary or bool(stored.phone_refs) != bool(contact.phone):
            return False
        if any(not ref.startswith(f"{primary}:") for ref in stored.phone_refs):
            return False  # hashed under an older key: a new report renews them
        row = {"lender_id": lender_id, "loan_id": loan_id, CONTACT.name: stored.sealed}
        try:
            return hmac.compare_digest(CONTACT.open(self.storage, row), plaintext)
        except (DecryptionError, ValueError):
            return False

    def open(self, lender_id: str, loan_id: str, sealed: dict[str, str]) -> BorrowerContact:
        row = {"lender_id": lender_id, "loan_id": loan_id, CONTACT.name: sealed}
        return BorrowerContact.model_validate_json(CONTACT.open(self.storage, row))

    def seal_answer(self, request_id: str, answer: DataAnswer) -> SealedValue:
        return seal_answer(self.transit, request_id, answer)

    def phone_ref(self, phone: str, kid: str | None = None) -> str:
        """The keyed hash of a number in E.164, under the current key or ``kid``'s."""
        kid = kid or self.storage.primary
        digest = hmac.new(self._lookup_keys[kid], _e164(phone).encode(), hashlib.sha256)
        return f"{kid}:{digest.hexdigest()[:40]}"

    def phone_refs(self, phone: str) -> list[str]:
        """The number's hash under every key in the ring (to find it whatever its age)."""
        return [self.phone_ref(phone, kid) for kid in self.storage.keys]

    @cached_property
    def _lookup_keys(self) -> dict[str, bytes]:
        return {
            kid: HKDF(hashes.SHA256(), 32, salt=None, info=b"notifier phone lookup").derive(key)
            for kid, key in self.storage.keys.items()
        }


def _e164(phone: str) -> str:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
