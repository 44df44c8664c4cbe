"""The batch route's lean validation answers exactly as the plain one did."""

from typing import Any

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from services.intake.api.schemas import Email

ADDRESSES = [
    "a@example.com",
    "A.B+c@Example.COM",
    "x@localhost",
    "x@test",
    "x@b",
    "a..b@example.com",
    ".a@example.com",
    "a@-example.com",
    "a@example..com",
    "a@exa_mple.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 250 + ".com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "Foo <a@b.com>",
    " a@example.com ",
    "a@münchen.de",
    "ü@example.com",
    "a@xn--mnchen-3ya.de",
    "a@EXAMPLE.invalid",
    "a@example.com.",
    "a@123.45.67.89",
    "a@[1.2.3.4]",
    "a@example-.com",
    "a@xn--a.com",
    "user@sub.domain.co.uk",
    "no-at-sign",
    "@example.com",
    "a@",
]


def _answer(adapter: TypeAdapter[Any], value: str) -> str:
    try:
        return str(adapter.validate_python(value))
    except ValidationError as error:
        return f"error: {error.errors()[0]['msg']}"


@pytest.mark.parametrize("value", ADDRESSES)
def test_email_answers_like_emailstr(value: str) -> None:
    plain: TypeAdapter[Any] = TypeAdapter(EmailStr)
    lean: TypeAdapter[Any] = TypeAdapter(Email)
    assert _answer(lean, value) == _answer(plain, value)
    assert _answer(lean, value) == _answer(plain, value)  # again, its domain now remembered


def test_email_schema_is_emailstr_s() -> None:
    lean: TypeAdapter[Any] = TypeAdapter(Email | None)
    assert lean.json_schema() == TypeAdapter(EmailStr | None).json_schema()
