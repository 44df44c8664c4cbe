"""The pure helpers the state machine calls: send times across daylight-saving changes, due and
next steps, stops, retries, pauses; every date from 1970 to 9999 without an OverflowError."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.policy import CadencePolicy, SendFailure
from tests.unit.notifier.support import book

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = sorted(available_timezones() - {"Factory", "localtime"})


def policy(send_at: str = "10:00", jurisdiction: str = "CN") -> CadencePolicy:
    chosen = book().select("any-lender", "any-product", jurisdiction)
    return chosen.model_copy(update={"send_at": time.fromisoformat(send_at)})


def test_a_send_time_is_local_wall_clock_on_both_sides_of_a_change() -> None:
    cn = policy()
    before = cn.send_time(date(2026, 3, 28), LONDON)
    after = cn.send_time(date(2026, 3, 30), LONDON)
    assert before is not None
    assert after is not None
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (10, 9)
    assert (before.hour, after.hour) == (10, 10)


@pytest.mark.parametrize(
    ("zone", "day", "send_at", "utc", "local"),
    [
        # Spring forward: the skipped hour's time moves forward by the gap.
        (LONDON, date(2026, 3, 29), "01:30", datetime(2026, 3, 29, 1, 30), time(2, 30)),
        (NEW_YORK, date(2026, 3, 8), "02:30", datetime(2026, 3, 8, 7, 30), time(3, 30)),
        # Fall back: a repeated time is its first occurrence (summer time).
        (LONDON, date(2026, 10, 25), "01:30", datetime(2026, 10, 25, 0, 30), time(1, 30)),
        (NEW_YORK, date(2026, 11, 1), "01:30", datetime(2026, 11, 1, 5, 30), time(1, 30)),
    ],
)
def test_daylight_saving_gaps_move_forward_and_repeats_take_the_first(
    zone: ZoneInfo, day: date, send_at: str, utc: datetime, local: time
) -> None:
    at = policy(send_at).send_time(day, zone)
    assert at is not None
    assert at.astimezone(UTC).replace(tzinfo=None) == utc
    assert at.timetz().replace(tzinfo=None) == local
    assert at.date() == day


def test_the_schedule_lays_each_step_on_its_day() -> None:
    scheduled = policy().schedule(date(2026, 12, 1), SHANGHAI)
    assert [(s.number, s.step.days_past_due, s.send_at) for s in scheduled] == [
        (n, d, datetime(2026, 12, 1 + d, 10, tzinfo=SHANGHAI))
        for n, d in ((1, 1), (2, 3), (3, 5), (4, 10))
    ]


def test_due_and_next_steps_and_the_stop() -> None:
    cn = policy()
    assert [n for n, _ in cn.due_steps(0)] == []
    assert [n for n, _ in cn.due_steps(4)] == [1, 2]
    assert [n for n, _ in cn.due_steps(30)] == [1, 2, 3, 4]
    assert cn.due_steps(31) == ()
    assert cn.next_step(3) == (3, cn.steps[2])
    assert cn.next_step(10) is None
    assert (cn.stops_at(30), cn.stops_at(31)) == (False, True)


def test_retries_back_off_exponentially_up_to_the_cap_then_give_up() -> None:
    us = policy(jurisdiction="US")  # 4 attempts, 10 minutes doubling, at most 240
    delays = [us.retry_delay(n, SendFailure.TIMEOUT) for n in (1, 2, 3, 4)]
    assert delays == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40), None]
    assert us.retry_delay(1, SendFailure.INVALID_ADDRESS) is None
    assert us.retry_delay(0, SendFailure.TIMEOUT) is None
    failed = datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert us.retry_at(failed, 2, SendFailure.RATE_LIMITED) == failed + timedelta(minutes=20)


def test_a_partial_payment_pauses_reminders_for_the_policys_days() -> None:
    assert policy().paused_until(date(2026, 12, 5)) == date(2026, 12, 8)
    assert policy(jurisdiction="US").paused_until(date(2026, 12, 5)) is None
    assert policy().paused_until(date(9999, 12, 30)) == date.max


def test_the_next_send_time_is_strictly_after() -> None:
    cn = policy()
    at_ten = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    assert cn.next_send_time(at_ten - timedelta(seconds=1), SHANGHAI) == at_ten
    assert cn.next_send_time(at_ten, SHANGHAI) == at_ten + timedelta(days=1)


days = st.dates(min_value=date(1970, 1, 1), max_value=date(9999, 12, 31))
zones = st.sampled_from(ZONES).map(ZoneInfo)
wall_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(day=days, zone=zones, send_at=wall_times)
def test_a_send_time_is_the_wall_clock_time_or_later_and_none_only_at_the_calendars_end(
    day: date, zone: ZoneInfo, send_at: time
) -> None:
    at = policy(send_at.isoformat("minutes")).send_time(day, zone)
    if at is None:
        assert day >= date(9999, 12, 30)
        return
    assert at.utcoffset() is not None
    wall = datetime.combine(day, send_at)
    assert at.replace(tzinfo=None) >= wall  # equal, or moved forward out of a skipped hour
    assert at.replace(tzinfo=None) - wall < timedelta(days=1, hours=1)


@given(anchor=days, zone=zones, after=st.datetimes(timezones=st.just(UTC)))
def test_no_helper_overflows_anywhere_in_the_calendar(
    anchor: date, zone: ZoneInfo, after: datetime
) -> None:
    cn = policy()
    for scheduled in cn.schedule(anchor, zone):
        if scheduled.send_at is None:
            assert anchor.year == 9999
        else:
            day = anchor + timedelta(scheduled.step.days_past_due)
            assert 0 <= (scheduled.send_at.date() - day).days <= 1  # a skipped day moves on
    found = cn.next_send_time(after, zone)
    assert (found is None and after.year == 9999) or (found is not None and found > after)
    assert cn.paused_until(anchor) is not None
    assert cn.retry_at(after, 1, SendFailure.TIMEOUT) in (None, after + timedelta(minutes=15))


@given(attempts=st.integers(min_value=-5, max_value=10_000))
def test_a_retry_delay_never_exceeds_the_cap(attempts: int) -> None:
    delay = policy().retry_delay(attempts, SendFailure.PROVIDER_UNAVAILABLE)
    assert delay is None or timedelta(minutes=15) <= delay <= timedelta(minutes=120)
