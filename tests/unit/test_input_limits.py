"""Pure validators of shared/events/limits.py: instants and dates a lender could mean."""

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.events.envelope import Envelope, new_envelope
from shared.events.limits import (
    EARLIEST,
    MAX_CLOCK_SKEW,
    DateTime,
    Instant,
    plausible_date,
    plausible_instant,
)


def test_now_and_a_little_clock_skew_are_plausible() -> None:
    now = datetime.now(UTC)
    assert plausible_instant(now) == now
    within = now + MAX_CLOCK_SKEW - timedelta(seconds=5)
    assert plausible_instant(within) == within
    assert plausible_instant(EARLIEST) == EARLIEST


@pytest.mark.parametrize(
    "value",
    [
        datetime(2090, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12))),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_far_off_instants_are_refused(value: datetime) -> None:
    with pytest.raises(ValueError, match="1970"):
        plausible_instant(value)


def test_beyond_the_allowed_skew_is_refused() -> None:
    with pytest.raises(ValueError, match="future"):
        plausible_instant(datetime.now(UTC) + MAX_CLOCK_SKEW + timedelta(seconds=5))


def test_plausible_dates() -> None:
    today = datetime.now(UTC).date()
    assert plausible_date(today) == today
    assert plausible_date(today + timedelta(days=1)) == today + timedelta(days=1)
    assert plausible_date(date(1970, 1, 1)) == date(1970, 1, 1)
    for value in (date(1969, 12, 31), today + timedelta(days=2), date(9999, 12, 31)):
        with pytest.raises(ValueError, match="1970"):
            plausible_date(value)


@pytest.mark.parametrize(
    "value",
    [0, 1_700_000_000, 0.5, "0.5", "1700000000", "2026-01-01T12:00:00", "2026-01-01", True],
)
def test_an_instant_is_rfc3339_text_with_an_offset_not_a_number(value: object) -> None:
    """Pydantic reads numbers and numeric strings as seconds since 1970 and takes times
    without an offset where an aware one is asked only when given in text; neither is what a
    caller of these APIs means."""
    with pytest.raises(ValidationError, match="RFC 3339"):
        TypeAdapter(Instant).validate_python(value)
    with pytest.raises(ValidationError, match="RFC 3339"):
        TypeAdapter(Instant).validate_json(json.dumps(value))


@pytest.mark.parametrize(
    "text", ["2026-01-01T12:00:00Z", "2026-01-01t12:00:00.123456789z", "2026-01-01T12:00:00+08:00"]
)
def test_rfc3339_text_and_datetimes_made_in_code_are_date_times(text: str) -> None:
    parsed = TypeAdapter(DateTime).validate_python(text)
    assert parsed.tzinfo is not None
    assert TypeAdapter(DateTime).validate_python(parsed) == parsed


class NoData(BaseModel):
    pass


def test_an_event_whose_time_is_a_number_is_not_read_as_1970() -> None:
    """Events carry the same date-times as the APIs: a poison message with ``"time": 0``
    goes to the dead letters instead of being logged at the epoch."""
    made = new_envelope(
        type_name="collections.test",
        schema_version=1,
        source="/collections/tests",
        subject="L-1",
        tenant="lender-1",
        data=NoData(),
    )
    envelope = json.loads(made.to_bytes())
    assert Envelope.model_validate(envelope).time.tzinfo is not None
    for time in (0, 1.7e9, "1700000000", "2026-01-01T00:00:00"):
        with pytest.raises(ValidationError, match="RFC 3339"):
            Envelope.model_validate_json(json.dumps(envelope | {"time": time}))
