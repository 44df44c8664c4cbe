"""The keys intake protects personal data with, and the borrower as events carry them."""

from dataclasses import dataclass

from services.intake.domain.commands import Borrower
from shared.crypto import KeyRing, Pseudonymizer, SealedValue
from shared.events.models import BorrowerContact, BorrowerProfile


@dataclass(frozen=True, slots=True)
class Sealing:
    """At rest (intake's own key), in events (keys shared with entitled services), and the
    keyed hash that makes borrower pseudonyms."""

    storage: KeyRing
    transit: KeyRing
    pseudonyms: Pseudonymizer

    def reference(self, lender_id: str, borrower_id: str) -> str:
        return self.pseudonyms.reference(lender_id, borrower_id)

    def seal(self, lender_id: str, borrower: Borrower) -> "SealedBorrower":
        """The borrower's pseudonym, and their contact details sealed once for events."""
        reference = self.reference(lender_id, borrower.id)
        contact = BorrowerContact(name=borrower.name, phone=borrower.phone, email=borrower.email)
        plaintext = contact.model_dump_json().encode()
        profile = BorrowerProfile(
            ref=reference,
            contact=self.transit.seal(plaintext, associated_data=reference.encode()),
            locale=borrower.locale,
            timezone=borrower.timezone,
            region=borrower.region,
        )
        return SealedBorrower(borrower, profile, plaintext, self.storage)

    def open_contact(self, borrower_ref: str, at_rest: SealedValue) -> BorrowerContact:
        """Contact details stored under intake's own key, opened (for the borrower alone)."""
        return BorrowerContact.model_validate_json(
            self.storage.open(at_rest, associated_data=borrower_ref.encode())
        )

    def contact_for_transit(self, borrower_ref: str, at_rest: SealedValue) -> SealedValue:
        """Stored contact details resealed with the transit keys, for an event."""
        plaintext = self.storage.open(at_rest, associated_data=borrower_ref.encode())
        return self.transit.seal(plaintext, associated_data=borrower_ref.encode())

    def seal_text(self, text: str, context: str) -> SealedValue:
        """Free text that may hold personal data, sealed at rest and bound to ``context``."""
        return self.storage.seal(text.encode(), associated_data=context.encode())

    def open_text(self, sealed: SealedValue, context: str) -> str:
        return self.storage.open(sealed, associated_data=context.encode()).decode()


@dataclass(frozen=True, slots=True)
class SealedBorrower:
    borrower: Borrower
    profile: BorrowerProfile  # what events say of the borrower
    _contact: bytes  # BorrowerContact as JSON: personal data, never stored or sent unsealed
    _storage: KeyRing

    @property
    def ref(self) -> str:
        return self.profile.ref

    def at_rest(self) -> SealedValue:
        """Contact details sealed with intake's own key, made only for loans that are stored."""
        return self._storage.seal(self._contact, associated_data=self.ref.encode())
