"""The keys intake protects personal data with, and the borrower as events carry them."""

from dataclasses import dataclass
from typing import Any

import orjson

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

    def seal(
        self, lender_id: str, borrower: Borrower, reference: str | None = None
    ) -> "SealedBorrower":
        """The borrower's pseudonym, and their contact details sealed once for events.

        No model is made per borrower (a batch seals a thousand): the plaintext is
        ``BorrowerContact``'s JSON, byte for byte, and the sealed value its fields."""
        reference = reference or self.reference(lender_id, borrower.id)
        plaintext = orjson.dumps(
            {"name": borrower.name, "phone": borrower.phone, "email": borrower.email}
        )
        sealed = self.transit.seal(plaintext, associated_data=reference.encode())
        return SealedBorrower(
            borrower, reference, {"kid": sealed.kid, "ct": sealed.ct}, plaintext, self.storage
        )

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
    ref: str  # the pseudonym
    transit: dict[str, Any]  # the contact details sealed for events: SealedValue's fields
    _contact: bytes  # BorrowerContact as JSON: personal data, never stored or sent unsealed
    _storage: KeyRing

    @property
    def profile(self) -> BorrowerProfile:
        """What events say of the borrower."""
        return BorrowerProfile.model_validate(self.profile_fields())

    def profile_fields(self) -> dict[str, Any]:
        """``profile`` as JSON-ready fields (``BorrowerProfile.model_dump(mode="json")``)."""
        b = self.borrower
        return {
            "ref": self.ref,
            "contact": self.transit,
            "locale": b.locale,
            "timezone": b.timezone,
            "region": b.region,
        }

    def at_rest(self) -> SealedValue:
        """Contact details sealed with intake's own key, made only for loans that are stored."""
        return self._storage.seal(self._contact, associated_data=self.ref.encode())
