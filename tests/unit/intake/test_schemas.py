"""The batch route's lean validation answers exactly as the plain one did."""

from typing import Any

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from benchmarks.intake import report
from services.intake.api.reports import _validated
from services.intake.api.schemas import Email, ItemResult, OverdueLoanReport

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


def _report(loan_id: str) -> dict[str, Any]:
    return report(loan_id)


def test_a_valid_batch_is_validated_at_once_like_item_by_item() -> None:
    items = [_report(f"L-{n}") for n in range(5)]
    rejected: dict[int, ItemResult] = {}
    valid = _validated(items, rejected)
    assert rejected == {}
    assert valid == [(n, OverdueLoanReport.model_validate(item)) for n, item in enumerate(items)]


def test_a_bad_item_is_rejected_alone_with_its_fields() -> None:
    items: list[Any] = [_report("L-0"), _report("L-1"), "not a report", _report("L-3")]
    items[1]["borrower"]["email"] = "nobody@localhost"
    rejected: dict[int, ItemResult] = {}
    valid = _validated(items, rejected)
    assert [index for index, _ in valid] == [0, 3]
    assert sorted(rejected) == [1, 2]
    assert rejected[1].loan_id == "L-1"
    assert [error["field"] for error in rejected[1].errors] == ["borrower.email"]
    assert rejected[2].loan_id is None
    assert rejected[2].status == "rejected"


@pytest.mark.parametrize(
    "text",
    [
        "Bench Borrower",
        "consumer-credit",
        "O'Brien ~ {x} | 100%",
        "tab\there",
        "line\nbreak",
        "del\x7f",
        "nul\x00",
        "Zoë",
        "Zoe\u0308",  # decomposed: NFC makes it Zoë
        "right\u202eleft",
        "\ud800",
        "non\u00a0breaking",
        "王芳",
        "",
    ],
)
def test_the_ascii_shortcut_of_storable_text_answers_as_storable_text(text: str) -> None:
    from services.intake.api.schemas import _storable_text
    from shared.events.limits import storable_text

    def answer(check: Any) -> object:
        try:
            return check(text)
        except ValueError as error:
            return str(error)

    assert answer(_storable_text) == answer(storable_text)


def _phones() -> list[str]:
    """Valid example numbers of every region and type, their neighbours, and random digits
    after every calling code (with and without leading zeros), all as ``+`` and digits."""
    import random

    import phonenumbers

    rng = random.Random(20)
    phones: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                phones |= {e164, e164[:-1], e164 + "1", e164[:-1] + str(9 - int(e164[-1]))}
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for _ in range(25):
            length = rng.randint(1, 15)
            national = "".join(rng.choice("0123456789") for _ in range(length))
            phones |= {f"+{code}{national}", f"+{code}0{national}", f"+{code}1{national}"}
    return sorted(phones)


def test_the_quick_e164_check_never_accepts_what_the_full_check_refuses() -> None:
    import phonenumbers

    from services.intake.api.schemas import _valid_e164_quickly

    def full(value: str) -> bool:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return False
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return formatted == value and phonenumbers.is_valid_number(number)

    phones = _phones()
    quick = {phone for phone in phones if _valid_e164_quickly(phone)}
    accepted = {phone for phone in phones if full(phone)}
    assert quick <= accepted  # never more: a refusal is always the full check's answer
    assert len(quick) >= 0.9 * len(accepted)  # the shortcut takes nearly all valid numbers
    assert len(accepted) > 2000
