"""SMS length: GSM 03.38 septets when every character has one, else UTF-16 units (UCS-2)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.sms_length import SmsEncoding, SmsLength, sms_length

GSM, UCS2 = SmsEncoding.GSM_7BIT, SmsEncoding.UCS_2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SmsLength(GSM, 160, 1)),
        ("a" * 161, SmsLength(GSM, 161, 2)),
        ("a" * 306, SmsLength(GSM, 306, 2)),
        ("a" * 307, SmsLength(GSM, 307, 3)),
        ("€{}" + "a" * 154, SmsLength(GSM, 160, 1)),  # escaped characters take two septets
        ("¥1,234.50 due", SmsLength(GSM, 13, 1)),
        ("还" * 70, SmsLength(UCS2, 70, 1)),
        ("还" * 71, SmsLength(UCS2, 71, 2)),
        ("还" * 134, SmsLength(UCS2, 134, 2)),
        ("还" * 135, SmsLength(UCS2, 135, 3)),
        ("a" * 60 + "😀", SmsLength(UCS2, 62, 1)),  # outside the BMP: a surrogate pair
        ("Pay now ‘please’", SmsLength(UCS2, 16, 1)),  # one curly quote makes it all UCS-2
    ],
)
def test_units_and_segments(text: str, expected: SmsLength) -> None:
    assert sms_length(text) == expected


@given(st.text(max_size=500))
def test_segments_hold_the_units(text: str) -> None:
    length = sms_length(text)
    single, per_part = (160, 153) if length.encoding is GSM else (70, 67)
    assert length.units >= len(text)
    if length.units <= single:
        assert length.segments == 1
    else:
        assert (length.segments - 1) * per_part < length.units <= length.segments * per_part
