"""The HTTP contract lenders integrate against (field names are public; keep them)."""

import re
from datetime import date
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.intake.domain import days_past_due_error
from shared.events.money import Money

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$", strict=True)
]
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_TIMEZONES = frozenset(available_timezones())


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Borrower(Strict):
    id: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    phone: str | None = Field(default=None, description="E.164, e.g. +8613800138000")
    email: EmailStr | None = None
    locale: str = Field(description="BCP 47 language tag, e.g. zh-CN")
    timezone: str = Field(description="IANA time zone of the borrower, e.g. Asia/Shanghai")

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
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
        if not LOCALE.match(value):
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
    jurisdiction: Literal["CN", "US"]
    product: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount_overdue: Money
    due_date: date
    as_of: AwareDatetime = Field(description="When the lender's figures were true, with offset.")
    days_past_due: int = Field(strict=True, ge=1, le=36_500)

    @field_validator("amount_overdue")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.amount <= 0:
            raise ValueError("amount must be greater than zero")
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


class AcceptedReport(BaseModel):
    event_id: UUID
    loan_id: str
    status: Literal["accepted", "duplicate"] = "accepted"
