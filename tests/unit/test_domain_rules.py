"""Pure rules of the consumer services: reminder plans, placement eligibility."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.agency_gateway.domain import CaseStatus, PlacementPolicy
from services.notifier.domain.planning import (
    DEFAULT_CADENCE,
    SEND_AT,
    ReminderStatus,
    plan_reminders,
)
from shared.vocabulary import Channel

SHANGHAI = timezone(timedelta(hours=8))


def test_reminders_follow_the_cadence_in_the_borrowers_time_zone() -> None:
    plan = plan_reminders(date(2026, 11, 1), datetime(2026, 11, 1, 12, tzinfo=UTC), "Asia/Shanghai")
    assert [(r.step, r.channel) for r in plan] == [
        (1, Channel.SMS),
        (2, Channel.EMAIL),
        (3, Channel.SMS),
    ]
    assert all(r.status is ReminderStatus.SCHEDULED for r in plan)
    first = plan[0].scheduled_for.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (first.date(), first.time()) == (date(2026, 11, 2), SEND_AT)


def test_steps_already_past_are_skipped_and_a_catch_up_is_planned() -> None:
    reported = datetime(2026, 11, 28, 9, tzinfo=SHANGHAI)
    plan = plan_reminders(date(2026, 11, 1), reported, "Asia/Shanghai")
    skipped = [r for r in plan if r.status is ReminderStatus.SKIPPED]
    assert len(skipped) == len(DEFAULT_CADENCE)
    catch_up = plan[-1]
    assert catch_up.status is ReminderStatus.SCHEDULED
    assert catch_up.scheduled_for == datetime(2026, 11, 28, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_send_time_is_local_wall_clock_across_daylight_saving() -> None:
    # US clocks go back on 2026-11-01: 10:00 local is 14:00 UTC before, 15:00 UTC after.
    plan = plan_reminders(
        date(2026, 10, 30), datetime(2026, 10, 30, tzinfo=UTC), "America/New_York"
    )
    hours = [r.scheduled_for.astimezone(UTC).hour for r in plan]
    assert hours == [14, 15, 15]


def test_a_case_is_ready_for_placement_at_the_threshold() -> None:
    policy = PlacementPolicy(threshold_days=30)
    assert policy.status_for(29) is CaseStatus.AWAITING_THRESHOLD
    assert policy.status_for(30) is CaseStatus.READY_FOR_PLACEMENT


@pytest.mark.parametrize(
    ("due", "reported"),
    [
        (date(9999, 12, 31), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
        (date(9999, 12, 28), datetime(9999, 12, 30, 12, tzinfo=UTC)),
        (date(9999, 12, 20), datetime(9999, 12, 20, 1, tzinfo=UTC)),
        (date(1, 1, 1), datetime(1, 1, 1, 12, tzinfo=UTC)),
    ],
)
def test_a_plan_at_the_ends_of_the_calendar_never_overflows(due: date, reported: datetime) -> None:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Shanghai"):
        plan = plan_reminders(due, reported, zone)
        for reminder in plan:
            reminder.scheduled_for.astimezone(UTC)
