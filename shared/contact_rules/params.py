"""Typed parameters of each rule, and which way each one tightens.

Every field carries a ``Stricter`` marker; ``tighten`` compares a lender's value with the pack's
through it and refuses any that would loosen the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from shared.contact_rules.clock import in_window
from shared.contact_rules.ledger import ThirdPartyRelation
from shared.events.models import HoldReason
from shared.vocabulary import Channel


class Stricter(Enum):
    LOWER = "a lower value is stricter"
    HIGHER = "a higher value is stricter"
    MORE = "adding items is stricter"
    FEWER = "removing items is stricter"
    TRUE = "true is stricter"
    FALSE = "false is stricter"
    ALL_PARTIES = "all_parties is stricter than same_party"
    FIXED = "cannot be changed"


def _wall_time(value: Any) -> Any:
    if isinstance(value, str):
        hours, _, minutes = value.partition(":")
        if not (len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
            raise ValueError("must be a local time written HH:MM")
        return time(int(hours), int(minutes))
    return value


WallTime = Annotated[
    time, BeforeValidator(_wall_time), PlainSerializer(lambda value: value.strftime("%H:%M"))
]
Count = Annotated[int, Field(ge=0, le=1000)]
Days = Annotated[int, Field(ge=0, le=3650)]
Scope = Literal["all_parties", "same_party"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def loosenings(self, other: Params) -> Iterator[tuple[str, str]]:
        """(key, why) for every parameter of ``other`` that is looser than this one."""
        for name, info in type(self).model_fields.items():
            marker = next((m for m in info.metadata if isinstance(m, Stricter)), None)
            mine, theirs = getattr(self, name), getattr(other, name)
            if marker is None or mine == theirs:
                continue
            if not _tighter_or_equal(marker, mine, theirs):
                yield name, f"{_show(theirs)} would loosen {_show(mine)} ({marker.value})"


def _tighter_or_equal(marker: Stricter, mine: Any, theirs: Any) -> bool:
    if marker is Stricter.LOWER:
        return bool(theirs <= mine)
    if marker is Stricter.HIGHER:
        return bool(theirs >= mine)
    if marker is Stricter.MORE:
        return set(theirs) >= set(mine)
    if marker is Stricter.FEWER:
        return set(theirs) <= set(mine)
    if marker is Stricter.TRUE:
        return bool(theirs) or not mine
    if marker is Stricter.FALSE:
        return not theirs or bool(mine)
    if marker is Stricter.ALL_PARTIES:
        return bool(theirs == "all_parties" or mine == "same_party")
    return bool(mine == theirs)


def _show(value: Any) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    return repr(value)


class NoParams(Params):
    pass


class QuietWindowParams(Params):
    """A nightly window in the borrower's zone, ``[start, end)``; it may span midnight."""

    start: WallTime
    end: WallTime
    channels: Annotated[list[Channel], Stricter.MORE]
    consent_lifts: Annotated[bool, Stricter.FALSE] = True
    honour_named_times: Annotated[bool, Stricter.TRUE] = False

    def loosenings(self, other: Params) -> Iterator[tuple[str, str]]:
        yield from super().loosenings(other)
        assert isinstance(other, QuietWindowParams)
        if (self.start, self.end) != (other.start, other.end) and not _contains(other, self):
            yield (
                "start/end",
                (
                    f"{other.start:%H:%M}–{other.end:%H:%M} does not cover "
                    f"{self.start:%H:%M}–{self.end:%H:%M}"
                ),
            )


def _contains(outer: QuietWindowParams, inner: QuietWindowParams) -> bool:
    """Whether every minute of ``inner`` is in ``outer``."""
    minute = inner.start.hour * 60 + inner.start.minute
    while True:
        reading = time(minute // 60, minute % 60)
        if not in_window(reading, inner.start, inner.end):
            return True
        if not in_window(reading, outer.start, outer.end):
            return False
        minute = (minute + 1) % 1440


class DailyCapParams(Params):
    max_per_day: Annotated[Count, Stricter.LOWER]
    scope: Annotated[Scope, Stricter.ALL_PARTIES] = "all_parties"
    consent_lifts: Annotated[bool, Stricter.FALSE] = False


class MessageCapParams(Params):
    """POL-03: written messages per borrower per local day, across the lender and agencies."""

    max_per_day: Annotated[Count, Stricter.LOWER]
    channels: Annotated[list[Channel], Stricter.MORE]
    scope: Annotated[Scope, Stricter.ALL_PARTIES] = "all_parties"


class ThirdPartyParams(Params):
    failed_attempts_for_unreachable: Annotated[Count, Stricter.HIGHER]


class BannedPhraseParams(Params):
    banned_phrases: Annotated[list[Annotated[str, Field(min_length=1)]], Stricter.MORE]


class FieldVisitParams(Params):
    min_staff: Annotated[Count, Stricter.HIGHER]
    recording_required: Annotated[bool, Stricter.TRUE]


class RetentionParams(Params):
    retention_years: Annotated[Count, Stricter.HIGHER]


class HoldParams(Params):
    reasons: Annotated[list[HoldReason], Stricter.MORE]


class CallFrequencyParams(Params):
    max_calls: Annotated[Count, Stricter.LOWER]
    window_days: Annotated[Annotated[int, Field(ge=1, le=366)], Stricter.HIGHER]
    after_conversation_days: Annotated[Days, Stricter.HIGHER]
    scope: Annotated[Scope, Stricter.ALL_PARTIES] = "same_party"


class CallCountingParams(Params):
    counted_channels: Annotated[list[Channel], Stricter.MORE]
    consent_exclusion_days: Annotated[Days, Stricter.LOWER]


class ValidationParams(Params):
    notice_within_days: Annotated[Days, Stricter.LOWER]
    period_days: Annotated[Days, Stricter.HIGHER]
    assumed_receipt_business_days: Annotated[Days, Stricter.HIGHER]


class ThirdPartyListParams(Params):
    allowed_relations: Annotated[list[ThirdPartyRelation], Stricter.FEWER]
    location_inquiries_per_person: Annotated[Count, Stricter.LOWER]


class CreditReportingParams(Params):
    waiting_days: Annotated[Days, Stricter.HIGHER]


class AutodialParams(Params):
    revocation_business_days: Annotated[Days, Stricter.LOWER]


PARAMS: dict[str, type[Params]] = {
    "POL-01": HoldParams,
    "POL-02": NoParams,
    "POL-03": MessageCapParams,
    "CN-01": QuietWindowParams,
    "CN-02": DailyCapParams,
    "CN-03": DailyCapParams,
    "CN-04": ThirdPartyParams,
    "CN-05": NoParams,
    "CN-06": BannedPhraseParams,
    "CN-07": FieldVisitParams,
    "CN-08": RetentionParams,
    "CN-09": NoParams,
    "CN-10": NoParams,
    "CN-11": NoParams,
    "US-01": QuietWindowParams,
    "US-02": CallFrequencyParams,
    "US-03": CallCountingParams,
    "US-04": ValidationParams,
    "US-05": NoParams,
    "US-06": NoParams,
    "US-07": ThirdPartyListParams,
    "US-08": NoParams,
    "US-09": NoParams,
    "US-10": CreditReportingParams,
    "US-11": RetentionParams,
    "US-12": AutodialParams,
}
"""Each rule id the engine knows, with the shape of its parameters."""
