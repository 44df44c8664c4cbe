"""Reminder planning, free of I/O: the lender's cadence laid out in the borrower's time zone."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.vocabulary import Channel


class ReminderStatus(StrEnum):
    SCHEDULED = "scheduled"
    SKIPPED = "skipped"  # its day had passed when the loan was first reported


@dataclass(frozen=True)
class CadenceStep:
    day: int  # days past due on which it is sent
    channel: Channel


DEFAULT_CADENCE = (
    CadenceStep(1, Channel.SMS),
    CadenceStep(3, Channel.EMAIL),
    CadenceStep(7, Channel.SMS),
)
SEND_AT = time(10, 0)  # borrower's local wall-clock time, well inside every quiet window


@dataclass(frozen=True)
class PlannedReminder:
    step: int
    channel: Channel
    scheduled_for: datetime
    status: ReminderStatus


def plan_reminders(
    due_date: date,
    reported_at: datetime,
    timezone: str,
    cadence: tuple[CadenceStep, ...] = DEFAULT_CADENCE,
) -> list[PlannedReminder]:
    """Lay the cadence out at ``SEND_AT`` local time on each step's day.

    Steps whose time passed before the loan was reported are skipped; if none is left, one
    catch-up reminder on the last step's channel goes out at the next ``SEND_AT``.
    """
    zone = ZoneInfo(timezone)
    plan = []
    for number, step in enumerate(cadence, start=1):
        at = send_time(due_date, step.day, zone)
        if at is None:
            continue
        status = ReminderStatus.SCHEDULED if at > reported_at else ReminderStatus.SKIPPED
        plan.append(PlannedReminder(number, step.channel, at, status))
    catch_up = next_send_time(reported_at, zone)
    if catch_up and all(reminder.status is ReminderStatus.SKIPPED for reminder in plan):
        plan.append(
            PlannedReminder(len(plan) + 1, cadence[-1].channel, catch_up, ReminderStatus.SCHEDULED)
        )
    return plan


def send_time(day: date, days_later: int, zone: ZoneInfo) -> datetime | None:
    """``SEND_AT`` local time ``days_later`` days after ``day``; None past the calendar's end."""
    try:
        at = datetime.combine(day + timedelta(days=days_later), SEND_AT, zone)
        at.astimezone(UTC)
    except OverflowError:
        return None
    return at


def next_send_time(after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first ``SEND_AT`` after ``after``; None past the calendar's end."""
    try:
        local = after.astimezone(zone)
    except OverflowError:
        return None
    candidate = send_time(local.date(), 0, zone)
    if candidate is not None and candidate <= after:
        candidate = send_time(local.date(), 1, zone)
    return candidate
