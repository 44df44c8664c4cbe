"""Intake's columns sealed under its data keys, each with what its values are bound to (the
associated data ``application/sealing.py`` seals them with), for re-sealing after a rotation."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.intake.adapters.tables import data_answers, disputes, loans
from shared.db.reseal import SealedColumn


@dataclass(frozen=True)
class BoundByTemplate(SealedColumn):
    """A column whose associated data is ``template`` filled from the row (e.g. a dispute's
    text: ``<lender>/<dispute>/details``)."""

    template: str = ""

    def associated_data(self, row: Mapping[str, Any]) -> bytes:
        return self.template.format(**{name: row[name] for name in self.bound_to}).encode()


CONTACT = SealedColumn(loans, "contact_sealed", bound_to=("borrower_ref",))
DISPUTE_DETAILS = BoundByTemplate(
    disputes, "details_sealed", ("lender_id", "dispute_id"), "{lender_id}/{dispute_id}/details"
)
DISPUTE_NOTE = BoundByTemplate(
    disputes, "note_sealed", ("lender_id", "dispute_id"), "{lender_id}/{dispute_id}/note"
)
DATA_ANSWER = BoundByTemplate(
    data_answers,
    "answer_sealed",
    ("request_id", "service"),
    "data-answer/{request_id}/{service}",
)
SEALED_COLUMNS = (CONTACT, DISPUTE_DETAILS, DISPUTE_NOTE, DATA_ANSWER)
