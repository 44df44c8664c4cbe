"""Pure validators of amounts, inconvenient times and free text."""

from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.crypto import KeyRing
from shared.events.limits import storable_note, storable_text
from shared.events.models import InconvenientTime
from shared.events.money import LenderMoney, Money


@pytest.mark.parametrize(
    "amount", ["1E+3", "1e3", "+5", " 5", "5 ", "1_000", "0x10", "Infinity", "NaN", ".5", "5.", 5]
)
def test_lender_amounts_are_plain_decimal_strings(amount: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        LenderMoney.model_validate({"amount": amount, "currency": "CNY"})
    assert [error["loc"] for error in caught.value.errors()] == [("amount",)]


@pytest.mark.parametrize(
    ("amount", "currency", "published"),
    [
        ("1000", "CNY", "1000.00"),
        ("1000.0", "CNY", "1000.00"),
        ("1000.00", "CNY", "1000.00"),
        ("1250", "JPY", "1250"),
        ("-3.5", "KWD", "-3.500"),
        ("0.10", "USD", "0.10"),
    ],
)
def test_amounts_are_published_in_one_canonical_form(
    amount: str, currency: str, published: str
) -> None:
    money = LenderMoney.model_validate({"amount": amount, "currency": currency})
    assert money.model_dump(mode="json") == {"amount": published, "currency": currency}
    assert Money.model_validate(money.model_dump(mode="json")) == Money(
        amount=Decimal(published), currency=currency
    )


def test_an_amount_in_exponent_form_inside_the_platform_is_published_plainly() -> None:
    money = Money(amount=Decimal("1E+3"), currency="CNY")
    assert money.model_dump(mode="json")["amount"] == "1000.00"


@pytest.mark.parametrize(
    "window",
    [
        {"weekdays": [7], "start": "20:00", "end": "09:00"},
        {"weekdays": [-5], "start": "20:00", "end": "09:00"},
        {"weekdays": [99], "start": "20:00", "end": "09:00"},
        {"weekdays": [1, 1], "start": "20:00", "end": "09:00"},
        {"weekdays": [True], "start": "20:00", "end": "09:00"},
        {"start": "20:00+08:00", "end": "09:00"},
        {"start": "20:00", "end": "09:00Z"},
    ],
)
def test_inconvenient_times_are_weekdays_0_to_6_once_and_naive_times(window: Any) -> None:
    with pytest.raises(ValidationError):
        InconvenientTime.model_validate(window)


def test_a_valid_inconvenient_time() -> None:
    window = InconvenientTime.model_validate({"weekdays": [5, 6], "start": "20:00", "end": "09:00"})
    assert (window.weekdays, window.start, window.end) == ([5, 6], time(20), time(9))


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b",
        "a\x07b",
        "line\nbreak",
        "tab\there",
        "a\x7fb",
        "a\x85b",
        "evil\u202eexe.txt",
        "\u202a",
        "\u202d",
        "\u2066x\u2069",
        "\u2068",
    ],
)
def test_control_and_bidi_override_characters_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        storable_text(text)


def test_text_is_normalised_to_nfc() -> None:
    assert storable_text("Zoe\u0301") == "Zo\u00e9"
    assert storable_text("张三") == "张三"
    assert TypeAdapter(str).validate_python(storable_text("O'Brien-Smith")) == "O'Brien-Smith"


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[2J", "a\x7fb", "a\x85b", "\u202e"])
def test_a_note_refuses_controls_but_tabs_and_line_breaks(text: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        storable_note(text)
    assert storable_note("two\r\nlines\tand Zoe\u0301") == "two\r\nlines\tand Zo\u00e9"


def test_a_keyed_hash_names_its_key_and_needs_it() -> None:
    ring = KeyRing.parse(KeyRing.generate_spec("k2") + "," + KeyRing.generate_spec("k1"))
    digest = ring.keyed_hash(b"note", b"purpose")
    assert digest.startswith("k2:")
    assert digest == ring.keyed_hash(b"note", b"purpose", "k2")
    assert digest != ring.keyed_hash(b"note", b"other purpose")
    assert ring.keyed_hash(b"note", b"purpose", "k1").startswith("k1:")
    other = KeyRing.parse(KeyRing.generate_spec("k2"))
    assert other.keyed_hash(b"note", b"purpose") != digest
