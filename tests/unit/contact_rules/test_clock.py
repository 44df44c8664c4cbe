"""Wall-clock instants across DST: the repeated hour and the skipped one."""

from datetime import UTC, date, datetime, time

import pytest

from shared.contact_rules.clock import add_business_days, day_start, first_instant, in_window
from tests.unit.contact_rules.support import LONDON, NEW_YORK


def test_a_skipped_reading_is_reached_at_the_end_of_the_gap() -> None:
    assert first_instant(date(2026, 3, 8), time(2, 30), NEW_YORK) == datetime(
        2026, 3, 8, 7, tzinfo=UTC
    )
    assert first_instant(date(2026, 3, 29), time(1, 15), LONDON) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )


def test_a_repeated_reading_is_the_first_not_before_the_given_moment() -> None:
    day, reading = date(2026, 11, 1), time(1, 30)
    assert first_instant(day, reading, NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    later = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST, the second pass
    assert first_instant(day, reading, NEW_YORK, not_before=later) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_day_start_and_business_days() -> None:
    assert day_start(date(2026, 3, 8), NEW_YORK) == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert day_start(date(2026, 3, 9), NEW_YORK) == datetime(2026, 3, 9, 4, tzinfo=UTC)
    assert add_business_days(date(2026, 5, 1), 5) == date(2026, 5, 8)


@pytest.mark.parametrize(
    ("reading", "inside"),
    [
        (time(21, 59), False),
        (time(22), True),
        (time(0), True),
        (time(7, 59), True),
        (time(8), False),
    ],
)
def test_a_window_across_midnight(reading: time, inside: bool) -> None:
    assert in_window(reading, time(22), time(8)) is inside
