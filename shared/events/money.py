"""Money as a decimal string and an ISO 4217 currency; never a float."""

import re
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

# ISO 4217 minor units of the currencies the platform serves.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "AUD": 2, "CAD": 2,
    "CHF": 2, "INR": 2, "MXN": 2, "BRL": 2, "PHP": 2, "IDR": 2, "THB": 2, "MYR": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "KWD": 3, "BHD": 3, "JOD": 3, "TND": 3,
}  # fmt: skip

# Every service stores amounts as NUMERIC(20, 4): below 10^16. A cap a decade lower leaves room
# for sums of several amounts (payments since a report) and is far beyond any consumer loan.
MAX_AMOUNT = Decimal(10) ** 15

PLAIN_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

DecimalString = Annotated[
    Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str)
]


class Money(BaseModel):
    """An amount in a currency, exact to the currency's minor unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: DecimalString
    currency: str

    @field_validator("amount", mode="before")
    @classmethod
    def _no_floats(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('amounts are decimal strings such as "1250.00", never numbers')
        return value

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("amount must be a finite decimal")
        if abs(value) >= MAX_AMOUNT:
            raise ValueError(f"amount must be below {MAX_AMOUNT:,}")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in MINOR_UNITS:
            raise ValueError(f"unsupported ISO 4217 currency code {value!r}")
        return value

    @model_validator(mode="after")
    def _precision(self) -> "Money":
        exponent = self.amount.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if decimals > MINOR_UNITS[self.currency]:
            raise ValueError(
                f"{self.currency} has {MINOR_UNITS[self.currency]} decimal places at most"
            )
        return self

    @field_serializer("amount")
    def _canonical(self, amount: Decimal) -> str:
        """Published with exactly the currency's decimals, never in exponent form."""
        return format(amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[self.currency])), "f")

    @classmethod
    def in_minor_units(cls, amount: Decimal, currency: str) -> "Money":
        """An amount read back from storage, shown with exactly the currency's decimals."""
        return cls(
            amount=amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[currency])), currency=currency
        )


class LenderMoney(Money):
    """Money as a lender sends it: the amount a plain decimal string such as "1250.00"."""

    amount: Annotated[
        DecimalString,
        WithJsonSchema({"type": "string", "pattern": PLAIN_DECIMAL.pattern, "title": "Amount"}),
    ]

    @field_validator("amount", mode="before")
    @classmethod
    def _plain_decimal(cls, value: object) -> object:
        if not isinstance(value, str) or not PLAIN_DECIMAL.fullmatch(value):
            raise ValueError(
                'amounts are plain decimal strings such as "1250.00" '
                "(digits, one point, no exponent, no sign but a leading minus)"
            )
        return value
