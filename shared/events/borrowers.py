"""Data of the borrower's events: disputes and their resolution, and personal-data requests.

Intake publishes what a borrower asks (and a lender's resolution of a dispute) on the loans
topic, so it stays in order with everything else of the loan. Each service that holds personal
data answers a data request on its own topic; intake gathers the answers for the borrower.
"""

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from shared.crypto import KeyRing, SealedValue
from shared.events.limits import DateTime
from shared.events.models import Frozen
from shared.events.money import Money


class DisputeReason(StrEnum):
    NOT_MINE = "not_mine"
    AMOUNT_WRONG = "amount_wrong"
    ALREADY_PAID = "already_paid"
    OTHER = "other"


class DisputeSource(StrEnum):
    BORROWER = "borrower"  # filed on the borrower's page
    AGENCY = "agency"  # reported by the agency holding the account (DisputeRaised)


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"  # the borrower was right: the debt is closed or corrected
    REJECTED = "rejected"  # the debt stands: the hold is lifted, collection resumes


class DisputeOpened(Frozen):
    """The borrower disputed the debt on their page; intake holds the loan in the same
    transaction (a ``hold-placed`` event with ``hold_id``). No free text: details stay at
    intake."""

    loan_id: str
    dispute_id: str
    borrower_ref: str
    reason: DisputeReason
    hold_id: str
    opened_at: DateTime


class DisputeResolved(Frozen):
    """The lender resolved a dispute (the borrower's or one an agency reported). Rejected: the
    hold is lifted (``hold-lifted``). Upheld: the loan is closed, or its amount corrected and the
    hold lifted. The notifier tells the borrower the outcome in their language."""

    loan_id: str
    dispute_id: str
    borrower_ref: str
    source: DisputeSource
    outcome: DisputeOutcome
    hold_id: str
    corrected_amount: Money | None = Field(
        default=None, description="Upheld with a corrected debt: what is now overdue."
    )
    resolved_at: DateTime


class DataRequestKind(StrEnum):
    ACCESS = "access"  # PIPL art. 45: what is held, with whom it was shared, contacts made
    DELETION = "deletion"  # PIPL art. 47: erase what no law requires to keep


class DataRequested(Frozen):
    """A borrower asked to see, or to erase, the personal data the platform holds about them."""

    request_id: str
    loan_id: str
    borrower_ref: str
    kind: DataRequestKind
    requested_at: DateTime
    due_by: DateTime


class PersonalDataItem(Frozen):
    """One item of personal data a service holds (its value only ever travels sealed)."""

    category: str = Field(description="e.g. name, phone, email, locale, timezone, region")
    value: str
    purpose: str = Field(description="Why the service holds it, in plain words.")


class SharingRecord(Frozen):
    """A party the borrower's data was shared with, and for how long (a placement)."""

    party: str = Field(description="agency")
    party_id: str
    name: str
    shared_at: DateTime
    ended_at: DateTime | None = None
    purpose: str


class ContactRecord(Frozen):
    """A contact made with the borrower (a message, an agency's call ...), no content."""

    at: DateTime
    party: str = Field(description="lender, or agency:<agency id>")
    channel: str
    kind: str = Field(description="reminder, agency_notice, call, visit ...")
    outcome: str


class RetentionItem(Frozen):
    """What a deletion did with one category of data: erased, or kept with its legal reason."""

    category: str
    erased: bool
    legal_basis: str | None = Field(
        default=None, description="Why it must be kept (a rule id and its source)."
    )
    kept_until: DateTime | None = None


class DataAnswer(Frozen):
    """One service's answer to a data request."""

    service: str
    personal_data: list[PersonalDataItem] = Field(default_factory=list)
    shared_with: list[SharingRecord] = Field(default_factory=list)
    contacts: list[ContactRecord] = Field(default_factory=list)
    retention: list[RetentionItem] = Field(
        default_factory=list, description="Deletion: each category erased or kept, and why."
    )


class DataRequestAnswered(Frozen):
    """A service's answer to a data request. A service holding personal data seals its answer
    with the transit keys (only intake opens it, for the borrower alone); compliance, which
    holds pseudonyms only, answers in the clear."""

    request_id: str
    loan_id: str
    borrower_ref: str
    kind: DataRequestKind
    service: str
    answered_at: DateTime
    sealed_answer: SealedValue | None = Field(
        default=None, description="DataAnswer as JSON, sealed with the transit keys."
    )
    answer: DataAnswer | None = Field(
        default=None, description="An answer that holds no personal data, in the clear."
    )

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if (self.sealed_answer is None) == (self.answer is None):
            raise ValueError("carries exactly one of sealed_answer and answer")
        return self


DATA_HOLDERS = ("notifier", "agency_gateway", "compliance")
"""The services besides intake that answer every data request; a request is ready when each
has answered (intake answers its own part itself)."""


def seal_answer(transit: KeyRing, request_id: str, answer: DataAnswer) -> SealedValue:
    """A service's answer sealed for intake alone, bound to its request (it cannot be passed
    off as the answer to another)."""
    return transit.seal(answer.model_dump_json().encode(), request_id.encode())


def open_answer(transit: KeyRing, request_id: str, sealed: SealedValue) -> DataAnswer:
    return DataAnswer.model_validate_json(transit.open(sealed, request_id.encode()))
