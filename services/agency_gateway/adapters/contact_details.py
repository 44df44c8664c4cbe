"""Borrower contact details in the gateway: opened from events, stored under its own data key.

Events carry a borrower's contact sealed under the shared transit key, bound to the borrower's
pseudonym. The gateway opens it once, on consumption, and stores it sealed under its own data
key ring (``AGENCY_GATEWAY_DATA_KEYS``), bound to the case's lender and loan ids: a stored value
moved to another case does not open, and the transit key never opens what is at rest.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.agency_gateway.adapters.tables import collection_cases
from shared.crypto import KeyRing, SealedValue
from shared.db.reseal import Opener, ResealJob, SealedColumn
from shared.events.models import BorrowerContact

CONTACT = SealedColumn(collection_cases, "contact_sealed", bound_to=("lender_id", "loan_id"))


@dataclass(frozen=True)
class ContactKeys:
    transit: KeyRing  # opens the contact details inside events
    storage: KeyRing  # the gateway's own: seals them at rest

    def __post_init__(self) -> None:
        shared_ids = set(self.transit.keys) & set(self.storage.keys)
        if shared_ids:
            raise ValueError(
                f"data_keys and transit_keys share key ids {sorted(shared_ids)}: give each key "
                "its own id"
            )

    def stored(self, in_event: SealedValue, case: Mapping[str, Any]) -> dict[str, str]:
        """The contact of a case's event, as the case stores it (raises DecryptionError)."""
        plaintext = self.transit.open(in_event, associated_data=case["borrower_ref"].encode())
        return CONTACT.seal(self.storage, plaintext, case)

    def opened(self, case: Mapping[str, Any]) -> BorrowerContact:
        """The contact a case stores (raises DecryptionError)."""
        return BorrowerContact.model_validate_json(CONTACT.open(self.storage, case))

    def reseal_job(self) -> ResealJob:
        """Re-sealing the stored contacts; cases stored before the gateway had data keys hold
        them as received (under a transit key, bound to the pseudonym) and are re-sealed too."""
        return ResealJob(CONTACT, self.storage, opener=self._opener(), reads=("borrower_ref",))

    def _opener(self) -> Opener:
        def open_stored(column: SealedColumn, row: Mapping[str, Any]) -> bytes:
            stored = SealedValue.model_validate(row[column.name])
            if stored.kid in self.storage.keys:
                return column.open(self.storage, row)
            return self.transit.open(stored, associated_data=row["borrower_ref"].encode())

        return open_stored
