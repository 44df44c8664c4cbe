"""Intake's own part of a borrower's data request, and answers kept sealed with its data keys.

Scope: the borrower (lender and pseudonym), every loan of theirs at that lender. Access: the
personal data intake holds, opened, and their contact preferences. Deletion: the contact
details (and dispute texts) of loans that ended are erased, and so are the copies kept of the
borrower's earlier access answers; those of a loan still owed are kept (``debt_owed``), and
every loan's record is kept without plaintext (``collection_records``).
A loan ended when it is closed or cured, or the lender recalled it after its latest report.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.intake.application.ports import StoredAnswer, StoredBorrower, StoredPreferences
from services.intake.application.sealing import Sealing
from shared.events.borrowers import (
    DATA_HOLDERS,
    DataAnswer,
    DataRequestKind,
    PersonalDataItem,
    RetentionItem,
)
from shared.personal_data import collection_records, debt_owed

SERVICE = "intake"
ANSWERING = (SERVICE, *DATA_HOLDERS)  # the order answers are shown in
PURPOSE_CONTACT = "to collect the loan {loan_id} on the lender's behalf"
PURPOSE_PROFILE = "to write to you in your language and at times local to you"
PURPOSE_PREFERENCES = "to contact you only as you and the lender asked"


@dataclass(frozen=True, slots=True)
class OwnPart:
    answer: DataAnswer
    erase: list[str]  # loans whose contact details and dispute texts are to be erased


def own_part(
    kind: DataRequestKind,
    loans: Sequence[StoredBorrower],
    preferences: StoredPreferences | None,
    sealing: Sealing,
) -> OwnPart:
    if kind is DataRequestKind.ACCESS:
        return OwnPart(_access(loans, preferences, sealing), [])
    retention: list[RetentionItem] = []
    erase: list[str] = []
    for stored in loans:
        loan = stored.loan
        if stored.ended:
            erase.append(loan.loan_id)
            retention.append(RetentionItem(category=f"contact_details:{loan.loan_id}", erased=True))
            retention.append(RetentionItem(category=f"dispute_texts:{loan.loan_id}", erased=True))
        else:
            owed = debt_owed()
            retention.append(
                RetentionItem(
                    category=f"contact_details:{loan.loan_id}",
                    erased=False,
                    legal_basis=owed.legal_basis,
                    kept_until=owed.until,
                )
            )
        records = collection_records(loan.jurisdiction, stored.updated_at)
        retention.append(
            RetentionItem(
                category=f"loan_record:{loan.loan_id}",
                erased=False,
                legal_basis=records.legal_basis,
                kept_until=records.until,
            )
        )
    retention.append(RetentionItem(category="access_answers", erased=True))
    return OwnPart(DataAnswer(service=SERVICE, retention=retention), erase)


def _access(
    loans: Sequence[StoredBorrower], preferences: StoredPreferences | None, sealing: Sealing
) -> DataAnswer:
    items: list[PersonalDataItem] = []

    def add(category: str, value: str | None, purpose: str) -> None:
        item = PersonalDataItem(category=category, value=value or "", purpose=purpose)
        if value and item not in items:
            items.append(item)

    for stored in loans:
        purpose = PURPOSE_CONTACT.format(loan_id=stored.loan.loan_id)
        if stored.contact is not None:
            contact = sealing.open_contact(stored.loan.borrower_ref, stored.contact)
            add("name", contact.name, purpose)
            add("phone", contact.phone, purpose)
            add("email", contact.email, purpose)
        add("locale", stored.locale, PURPOSE_PROFILE)
        add("timezone", stored.timezone, PURPOSE_PROFILE)
        add("region", stored.region, PURPOSE_PROFILE)
    if preferences is not None:
        add("contact_preferences", preferences.effective.model_dump_json(), PURPOSE_PREFERENCES)
    return DataAnswer(service=SERVICE, personal_data=items)


def sealed_answer(
    sealing: Sealing, request_id: str, service: str, answer: DataAnswer, at: datetime
) -> StoredAnswer:
    """An answer as intake stores it: sealed with its data keys, bound to request and service."""
    sealed = sealing.seal_text(answer.model_dump_json(), _context(request_id, service))
    return StoredAnswer(request_id, service, sealed, at)


def opened_answers(sealing: Sealing, stored: Sequence[StoredAnswer]) -> list[DataAnswer]:
    """The answers opened for the borrower, intake's first, then each service's."""
    ordered = sorted(
        stored, key=lambda a: ANSWERING.index(a.service) if a.service in ANSWERING else 99
    )
    return [
        DataAnswer.model_validate_json(
            sealing.open_text(a.sealed, _context(a.request_id, a.service))
        )
        for a in ordered
    ]


def _context(request_id: str, service: str) -> str:
    return f"data-answer/{request_id}/{service}"
