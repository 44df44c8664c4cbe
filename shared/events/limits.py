"""Values every service can store and encode, checked at the edge with the field named.

JSON allows ``\\u0000`` and unpaired surrogates such as ``\\ud800``; neither fits a PostgreSQL
``text`` or ``jsonb`` value, nor encodes to UTF-8. ISO 8601 allows ``9999-12-31T23:59:59-12:00``,
an instant in the year 10000 in UTC, which neither Python nor the database driver can convert.
Beyond what fits, what is plausible: ids follow one pattern, instants lie between 1970 and a few
minutes from now, and free text is NFC without control characters or bidirectional overrides.
Used as ``Annotated[str, StringConstraints(...), AfterValidator(storable_text)]``.
"""

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, strict=True)]
"""A lender's id of a loan, borrower, payment or hold: the one rule every service checks."""


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates: they make displayed text read other than it is."""


def storable_text(value: str) -> str:
    """Free text as NFC, refused if it holds control characters or bidirectional overrides."""
    return _storable(value, frozenset(), "(line breaks, tabs, escapes)")


NOTE_LAYOUT = frozenset("\t\n\r")
"""The control characters a note of several lines may hold: tabs and line breaks."""


def storable_note(value: str) -> str:
    """Free text of several lines: as :func:`storable_text`, but tabs and line breaks pass."""
    return _storable(value, NOTE_LAYOUT, "other than tabs and line breaks")


def _storable(value: str, allowed: frozenset[str], controls: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from error
    value = unicodedata.normalize("NFC", value)
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        raise ValueError(f"must not contain control characters {controls}")
    if not BIDI_CONTROLS.isdisjoint(value):
        raise ValueError("must not contain bidirectional overrides (U+202A-U+202E, U+2066-U+2069)")
    return value


def representable_instant(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("must be between the years 1 and 9999 in UTC") from error
    return value


RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def rfc3339_text(value: object) -> object:
    """Let through RFC 3339 strings (offset required) and datetimes built in code; refuse the
    numbers (and numeric strings) pydantic would otherwise read as seconds since 1970."""
    if isinstance(value, datetime) or (isinstance(value, str) and RFC3339.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:30:00Z")


DateTime = Annotated[AwareDatetime, BeforeValidator(rfc3339_text)]
"""A date and time as RFC 3339 text with its offset: every date-time a caller sends (bodies,
query parameters) is this type or :data:`Instant`, which is this one and plausible."""


MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of this host's clock a lender's clock may run."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_DATE = EARLIEST.date()


def plausible_instant(value: datetime) -> datetime:
    """Refuse instants before 1970 or more than ``MAX_CLOCK_SKEW`` ahead of now."""
    try:
        in_utc: datetime | None = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= datetime.now(UTC) + MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise ValueError(
            f"must be from 1970 on and not in the future (by more than {minutes} minutes)"
        )
    return value


def plausible_date(value: date) -> date:
    """Refuse dates before 1970 or after tomorrow in UTC (today somewhere on Earth)."""
    if not EARLIEST_DATE <= value <= datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("must be from 1970 on and not in the future")
    return value


Instant = Annotated[DateTime, AfterValidator(plausible_instant)]
"""A timezone-aware date and time, from 1970 until a few minutes from now."""
PastDate = Annotated[date, AfterValidator(plausible_date)]
"""A calendar date from 1970 until today (in any time zone)."""
