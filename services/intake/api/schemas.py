"""The HTTP contract lenders integrate against (field names are public; keep them)."""

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers.phonenumberutil import (
    _maybe_strip_national_prefix_carrier_code as _strip_national_prefix,
)
from phonenumbers.phonenumberutil import (
    _set_italian_leading_zeros_for_phone_number as _set_leading_zeros,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.networks import validate_email

from services.intake.application.handlers import LoanRecord
from services.intake.application.ports import HolderRecord
from services.intake.domain import commands
from services.intake.domain.disputes import MAX_DETAILS, Dispute
from services.intake.domain.loan import days_past_due_error
from shared.events.borrowers import DisputeOutcome
from shared.events.limits import Identifier, Instant, PastDate, storable_note, storable_text
from shared.events.models import ClosureReason, ContactPreferences, HoldReason
from shared.events.money import LenderMoney, Money
from shared.vocabulary import REGION_PATTERN, Jurisdiction, region_error

MAX_BATCH_ITEMS = 1000
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_TIMEZONES = frozenset(available_timezones())


# An unquoted ASCII local part (RFC 5322 dot-atom) and an ASCII domain: the addresses
# email-validator leaves as they are but for the domain's normalization.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ASCII_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")
_LOCAL_MAX, _ADDRESS_MAX = 64, 254


@lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str:
    """The domain as ``EmailStr`` normalizes it, or its error; valid ones are remembered
    (borrowers share few domains, and checking one is most of an address's cost)."""
    return validate_email(f"x@{domain}")[1].rpartition("@")[2]


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if (
        at
        and len(value) <= _ADDRESS_MAX
        and len(local) <= _LOCAL_MAX
        and _DOT_ATOM.fullmatch(local)
        and _ASCII_DOMAIN.fullmatch(domain)
    ):
        return f"{local}@{_normalized_domain(domain)}"
    return validate_email(value)[1]


# ``EmailStr``: the same answers and schema, without checking a known domain again.
Email = Annotated[
    str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})
]


def _positive(value: LenderMoney) -> LenderMoney:
    if value.amount <= 0:
        raise ValueError("amount must be greater than zero")
    return value


PositiveMoney = Annotated[LenderMoney, AfterValidator(_positive)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _storable_text(value: str) -> str:
    """``storable_text``, with printable ASCII (most names and products) taken as it is: it
    holds no NUL, surrogate, control character or bidirectional override, and is NFC already.
    Anything else goes through ``storable_text`` (a unit test compares the two)."""
    if value.isascii() and value.isprintable():
        return value
    return storable_text(value)


_E164_DIGITS = re.compile(r"\+[1-9][0-9]{2,16}")


def _valid_e164_quickly(value: str) -> bool:
    """True only where ``Borrower._e164``'s full check accepts ``value``, for a fifth of its
    cost (``phonenumbers.parse`` is most of it): a ``+`` and digits make the number
    ``parse`` would make (calling code, national number, leading zeros), unless the country's
    national prefix could be stripped from it, which only ``parse`` decides. False means "not
    sure": the full check answers (a unit test compares the two over every calling code)."""
    if not _E164_DIGITS.fullmatch(value):
        return False
    digits = value[1:]
    for size in (1, 2, 3):  # calling codes are prefix-free, as parse tries them
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return False
    national = digits[size:]
    if len(national) < 2:
        return False
    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return False
    _, stripped, _ = _strip_national_prefix(national, metadata)
    if stripped != national:
        return False
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    _set_leading_zeros(national, number)
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted == value and bool(phonenumbers.is_valid_number(number))


class Borrower(Strict):
    id: Identifier
    name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
        AfterValidator(_storable_text),
    ]
    phone: str | None = Field(default=None, description="E.164, e.g. +8613800138000")
    email: Email | None = None
    locale: str = Field(description="BCP 47 language tag, e.g. zh-CN")
    timezone: str = Field(description="IANA time zone of the borrower, e.g. Asia/Shanghai")
    region: Annotated[str, StringConstraints(pattern=REGION_PATTERN)] | None = Field(
        default=None,
        description="ISO 3166-2 subdivision of the borrower, e.g. CN-GD (a region of the "
        "loan's jurisdiction); agencies serving some regions only get loans of theirs.",
    )

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _valid_e164_quickly(value):
            return value
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as error:
            raise ValueError("must be an E.164 number such as +8613800138000") from error
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if formatted != value or not phonenumbers.is_valid_number(number):
            raise ValueError("must be a valid E.164 number such as +8613800138000")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if not LOCALE.fullmatch(value):
            raise ValueError("must be a BCP 47 tag such as zh-CN or en-US")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise ValueError("must be an IANA time zone such as Asia/Shanghai")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from error
        return value


class OverdueLoanReport(Strict):
    """One lender report of an overdue loan: the first one, or an update of it."""

    loan_id: Identifier
    borrower: Borrower
    jurisdiction: Jurisdiction
    product: Annotated[
        str, StringConstraints(min_length=1, max_length=64), AfterValidator(_storable_text)
    ]
    amount_overdue: PositiveMoney
    due_date: PastDate
    as_of: Instant = Field(description="When the lender's figures were true, with offset.")
    days_past_due: int = Field(strict=True, ge=1, le=36_500)

    @field_validator("jurisdiction")
    @classmethod
    def _borrower_region(cls, value: Jurisdiction, info: ValidationInfo) -> Jurisdiction:
        borrower = info.data.get("borrower")
        if borrower is not None and borrower.region is not None:
            error = region_error(borrower.region, [value])
            if error:
                raise ValueError(f"{error} (borrower.region)")
        return value

    @field_validator("days_past_due")
    @classmethod
    def _consistent(cls, value: int, info: ValidationInfo) -> int:
        due_date, as_of = info.data.get("due_date"), info.data.get("as_of")
        if due_date is not None and as_of is not None:
            error = days_past_due_error(due_date, as_of, value)
            if error:
                raise ValueError(error)
        return value

    def command(self) -> commands.OverdueReport:
        b = self.borrower
        return commands.OverdueReport(
            loan_id=self.loan_id,
            borrower=commands.Borrower(
                b.id, b.name, b.phone, b.email, b.locale, b.timezone, b.region
            ),
            jurisdiction=self.jurisdiction,
            product=self.product,
            amount_overdue=self.amount_overdue,
            due_date=self.due_date,
            days_past_due=self.days_past_due,
            as_of=self.as_of,
        )


class AcceptedReport(BaseModel):
    event_id: UUID
    loan_id: str
    status: Literal["accepted", "duplicate"] = "accepted"


class BatchOfReports(Strict):
    """Items are validated one by one, so one bad item never holds back the others."""

    items: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Overdue reports, each shaped like the body of POST /v1/overdue-loans.",
    )


class ItemResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    loan_id: str | None = None
    event_id: UUID | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


class PaymentReport(Strict):
    payment_id: Identifier
    amount: PositiveMoney
    paid_at: Instant

    def command(self, loan_id: str) -> commands.RecordPayment:
        return commands.RecordPayment(loan_id, self.payment_id, self.amount, self.paid_at)


class PaymentAccepted(BaseModel):
    event_id: UUID
    loan_id: str
    payment_id: str
    status: Literal["accepted", "duplicate"]
    loan_status: str
    outstanding: Money


class HoldRequest(Strict):
    reason: HoldReason
    hold_id: Identifier | None = Field(
        default=None, description="Your id for the hold; one is made if you give none."
    )

    def command(self, loan_id: str) -> commands.PlaceHold:
        return commands.PlaceHold(loan_id, self.reason, self.hold_id)


class HoldPlacedResponse(BaseModel):
    event_id: UUID
    loan_id: str
    hold_id: str
    status: Literal["accepted", "duplicate"]


class RecallRequest(Strict):
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)
    ] = "lender_request"
    recalled_at: Instant | None = None

    def command(self, loan_id: str) -> commands.RecallPlacement:
        return commands.RecallPlacement(loan_id, self.reason, self.recalled_at)


class ClosureRequest(Strict):
    reason: ClosureReason
    closed_at: Instant | None = None

    def command(self, loan_id: str) -> commands.CloseLoan:
        return commands.CloseLoan(loan_id, self.reason, self.closed_at)


class EventAccepted(BaseModel):
    event_id: UUID
    loan_id: str
    status: Literal["accepted", "duplicate"] = "accepted"


class PreferencesRequest(ContactPreferences):
    """Replaces the borrower's contact preferences as a whole."""

    effective_at: Instant | None = None

    def command(self, borrower_id: str) -> commands.UpdateContactPreferences:
        preferences = ContactPreferences.model_validate(self.model_dump(exclude={"effective_at"}))
        return commands.UpdateContactPreferences(borrower_id, preferences, self.effective_at)


class PreferencesAccepted(BaseModel):
    event_id: UUID
    borrower_id: str
    version: int


class HoldView(BaseModel):
    hold_id: str
    reason: str
    placed_at: datetime
    lifted_at: datetime | None


class HistoryEntry(BaseModel):
    event_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime
    details: dict[str, Any]


class ResolutionRequest(Strict):
    """The lender's answer to a dispute: upheld (the loan is closed, or its amount overdue
    corrected) or rejected (the hold is lifted and collection resumes)."""

    outcome: DisputeOutcome
    note: (
        Annotated[str, StringConstraints(max_length=MAX_DETAILS), AfterValidator(storable_note)]
        | None
    ) = Field(default=None, description="Kept sealed at intake; never published.")
    corrected_amount_overdue: PositiveMoney | None = Field(
        default=None,
        description="Upheld only: what is overdue now. The loan stays open with this amount "
        "(a new overdue report) and the hold is lifted; without it an upheld dispute closes "
        "the loan.",
    )

    @field_validator("corrected_amount_overdue")
    @classmethod
    def _upheld_only(cls, value: LenderMoney | None, info: ValidationInfo) -> LenderMoney | None:
        if value is not None and info.data.get("outcome") is not DisputeOutcome.UPHELD:
            raise ValueError("only an upheld dispute corrects the amount overdue")
        return value

    def command(self, loan_id: str, dispute_id: str) -> commands.ResolveDispute:
        return commands.ResolveDispute(
            loan_id, dispute_id, self.outcome, self.note, self.corrected_amount_overdue
        )


class DisputeResponse(BaseModel):
    dispute_id: str
    reason: str
    status: Literal["open", "upheld", "rejected"]
    source: Literal["borrower", "agency"]
    opened_at: datetime
    resolved_at: datetime | None
    outcome: DisputeOutcome | None
    corrected_amount_overdue: Money | None = None

    @classmethod
    def of(cls, dispute: Dispute) -> "DisputeResponse":
        return cls(
            dispute_id=dispute.dispute_id,
            reason=dispute.reason.value,
            status=dispute.status,
            source=dispute.source.value,
            opened_at=dispute.opened_at,
            resolved_at=dispute.resolved_at,
            outcome=dispute.outcome,
            corrected_amount_overdue=dispute.corrected_amount,
        )


class HolderView(BaseModel):
    """The agency an assignment entrusted the loan to."""

    agency_id: str
    name: str
    phone: str | None
    since: datetime

    @classmethod
    def of(cls, holder: HolderRecord) -> "HolderView":
        return cls(
            agency_id=holder.agency_id, name=holder.name, phone=holder.phone, since=holder.since
        )


class LoanView(BaseModel):
    loan_id: str
    status: str
    on_hold: bool
    jurisdiction: str
    product: str
    borrower_ref: str
    amount_overdue: Money
    outstanding: Money
    due_date: date
    days_past_due: int
    as_of: datetime
    closure_reason: str | None
    holds: list[HoldView]
    disputes: list[DisputeResponse] = Field(default_factory=list)
    held_by: HolderView | None = Field(
        default=None, description="The agency that holds the loan now, if one does."
    )
    history: list[HistoryEntry]

    @classmethod
    def of(cls, record: LoanRecord) -> "LoanView":
        loan = record.loan
        return cls(
            loan_id=loan.loan_id,
            status=loan.status.value,
            on_hold=record.on_hold,
            jurisdiction=loan.jurisdiction.value,
            product=loan.product,
            borrower_ref=loan.borrower_ref,
            amount_overdue=loan.money(loan.amount_overdue),
            outstanding=loan.money(loan.outstanding),
            due_date=loan.due_date,
            days_past_due=loan.days_past_due,
            as_of=loan.as_of,
            closure_reason=loan.closure_reason.value if loan.closure_reason else None,
            holds=[
                HoldView(
                    hold_id=h.hold_id,
                    reason=h.reason.value,
                    placed_at=h.placed_at,
                    lifted_at=h.lifted_at,
                )
                for h in record.holds
            ],
            disputes=[DisputeResponse.of(d) for d in record.disputes],
            held_by=HolderView.of(record.held_by) if record.held_by else None,
            history=[
                HistoryEntry(
                    event_id=h.event_id,
                    type=h.event_type,
                    occurred_at=h.occurred_at,
                    recorded_at=h.recorded_at or h.occurred_at,
                    details=h.details,
                )
                for h in record.history
            ],
        )
