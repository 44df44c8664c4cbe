"""The data of every event (the ``data`` member of the envelope)."""

from datetime import date, time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from shared.crypto import SealedValue
from shared.events.limits import DateTime, Instant, storable_text
from shared.events.money import Money
from shared.vocabulary import REGION_PATTERN, Channel


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BorrowerContact(Frozen):
    """Personal data: only ever at rest or in transit sealed (see ``SealedValue``)."""

    name: str
    phone: str | None = None
    email: str | None = None


class BorrowerProfile(Frozen):
    """What events say of a borrower: a pseudonym for everyone, contact details sealed."""

    ref: str = Field(description="Keyed-hash pseudonym; the only borrower id compliance sees.")
    contact: SealedValue = Field(description="BorrowerContact as JSON, AES-GCM sealed.")
    locale: str
    timezone: str
    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="ISO 3166-2 subdivision (e.g. CN-GD), when the lender reports it; "
        "agencies may serve some regions only.",
    )


class OverdueReported(Frozen):
    """A lender reported that a loan is past due (the first report or an update)."""

    loan_id: str
    borrower: BorrowerProfile
    jurisdiction: str
    product: str
    amount_overdue: Money
    due_date: date
    days_past_due: int
    as_of: DateTime


class PaymentReceived(Frozen):
    loan_id: str
    payment_id: str
    amount: Money
    paid_at: DateTime
    outstanding: Money = Field(description="What is left to pay after this payment.")
    cured: bool


class HoldReason(StrEnum):
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    COMPLAINT = "complaint"
    LEGAL_REVIEW = "legal_review"
    SUSPECTED_ILLEGAL_DEBT = "suspected_illegal_debt"


class HoldPlaced(Frozen):
    loan_id: str
    hold_id: str
    reason: HoldReason
    placed_at: DateTime


class HoldLifted(Frozen):
    loan_id: str
    hold_id: str
    lifted_at: DateTime


class PlacementRecalled(Frozen):
    loan_id: str
    reason: str
    recalled_at: DateTime


class ClosureReason(StrEnum):
    WRITTEN_OFF = "written_off"
    SETTLED = "settled"
    CLOSED = "closed"
    DISPUTE_UPHELD = "dispute_upheld"  # the lender upheld the borrower's dispute


class LoanClosed(Frozen):
    loan_id: str
    reason: ClosureReason
    closed_at: DateTime


Weekday = Annotated[int, Field(strict=True, ge=0, le=6)]


class InconvenientTime(Frozen):
    """A window, in the borrower's local time, in which they must not be contacted."""

    weekdays: list[Weekday] = Field(
        default_factory=lambda: list(range(7)), description="0 = Monday ... 6 = Sunday, once each"
    )
    start: time = Field(description="Local wall-clock time, without offset.")
    end: time = Field(
        description="Local, without offset; may be earlier than start: the window spans midnight."
    )

    @field_validator("weekdays")
    @classmethod
    def _each_day_once(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("must name each weekday at most once")
        return value

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("must be a local time such as 20:00, without offset")
        return value


class ConsentKind(StrEnum):
    AUTODIALED_CALLS_AND_TEXTS = "autodialed_calls_and_texts"  # US-12 (TCPA)
    CONTACT_IN_QUIET_HOURS = "contact_in_quiet_hours"  # CN-01 "unless agreed otherwise"
    CALLS_BEYOND_DAILY_CAP = "calls_beyond_daily_cap"  # CN-03 "unless agreed"
    DIRECT_CALL_CONSENT = "direct_call_consent"  # US-03 consent exclusion


class ConsentRecord(Frozen):
    kind: ConsentKind
    granted: bool = Field(strict=True)
    recorded_at: Instant
    channel: Channel | None = None
    evidence_ref: (
        Annotated[str, StringConstraints(max_length=200), AfterValidator(storable_text)] | None
    ) = None


class ContactPreferences(Frozen):
    opted_out_channels: list[Channel] = Field(default_factory=list)
    cease_communication: bool = Field(default=False, strict=True)
    inconvenient_times: list[InconvenientTime] = Field(default_factory=list)
    attorney_represented: bool = Field(default=False, strict=True)
    consents: list[ConsentRecord] = Field(default_factory=list)


class ContactPreferencesUpdated(Frozen):
    borrower_ref: str
    preferences: ContactPreferences
    effective_at: DateTime
