"""How many SMS segments a text takes: GSM 03.38 septets when every character has one, else UCS-2.

A single message holds 160 septets or 70 UCS-2 code units; a concatenated one loses room to its
header, 153 septets or 67 units per segment (3GPP TS 23.038 / 23.040).
"""

from dataclasses import dataclass
from enum import StrEnum

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)


class SmsEncoding(StrEnum):
    GSM_7BIT = "gsm-7bit"
    UCS_2 = "ucs-2"


_SINGLE = {SmsEncoding.GSM_7BIT: 160, SmsEncoding.UCS_2: 70}
_PER_PART = {SmsEncoding.GSM_7BIT: 153, SmsEncoding.UCS_2: 67}


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: SmsEncoding
    units: int  # septets (an escaped character counts two) or UTF-16 code units
    segments: int

    def __str__(self) -> str:
        return f"{self.units} {self.encoding} units, {self.segments} segment(s)"


def sms_length(text: str) -> SmsLength:
    try:
        units = len(text.encode("gsm03.38"))
        encoding = SmsEncoding.GSM_7BIT
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        encoding = SmsEncoding.UCS_2
    if units <= _SINGLE[encoding]:
        return SmsLength(encoding, units, 1)
    return SmsLength(encoding, units, -(-units // _PER_PART[encoding]))
