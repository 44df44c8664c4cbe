"""Wall-clock arithmetic in the borrower's zone, exact across daylight-saving changes.

A window boundary is a local wall-clock time. On a spring-forward day a boundary that falls in
the gap is reached at the end of the gap; on a fall-back day the repeated hour is inside a window
twice, and the first instant at or after a given moment is chosen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (an unknown name raises ``ZoneInfoNotFoundError``)."""
    return ZoneInfo(name)


def utc(at: datetime, what: str) -> datetime:
    """``at`` in UTC. Python compares two times of the same zone by their wall clocks, which
    misorders the repeated hour of a fall-back night: the engine holds every instant in UTC."""
    if at.utcoffset() is None:
        raise ValueError(f"{what}: a time must carry its offset")
    return at.astimezone(UTC)


def wall(at: datetime, tz: ZoneInfo) -> datetime:
    """The local wall-clock reading of an instant, without its offset."""
    return at.astimezone(tz).replace(tzinfo=None)


def first_instant(
    day: date, at: time, tz: ZoneInfo, not_before: datetime | None = None
) -> datetime:
    """The first instant, not before ``not_before``, whose wall clock on ``day`` reads ``at`` or
    later: the earlier of two readings in a repeated hour, the end of the gap in a skipped one."""
    readings = _readings(day, at, tz)
    if not_before is not None:
        for reading in readings:
            if reading >= not_before:
                return reading
    return readings[-1] if not_before is not None else readings[0]


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day (midnight, or the end of a midnight gap)."""
    return _readings(day, time(0), tz)[0]


@lru_cache(maxsize=8192)
def _readings(day: date, at: time, tz: ZoneInfo) -> tuple[datetime, ...]:
    """The instants whose wall clock reads ``at`` on ``day``, earliest first (two in a repeated
    hour); for a skipped reading, the end of the gap."""
    naive = datetime.combine(day, at)
    readings = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if wall(instant, tz) == naive and instant not in readings:
            readings.append(instant)
    if not readings:
        readings.append(_end_of_gap(naive, tz))
    return tuple(sorted(readings))


def _end_of_gap(naive: datetime, tz: ZoneInfo) -> datetime:
    """First instant whose wall clock reads ``naive`` or later, when ``naive`` is skipped."""
    ends = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    low, high = int(min(ends).timestamp()), int(max(ends).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if wall(datetime.fromtimestamp(middle, UTC), tz) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def in_window(reading: time, start: time, end: time) -> bool:
    """Whether a wall-clock reading falls in ``[start, end)``; ``end < start`` spans midnight."""
    if start <= end:
        return start <= reading < end
    return reading >= start or reading < end


def add_business_days(day: date, count: int) -> date:
    """``count`` weekdays after ``day`` (public holidays are not skipped: an earlier deadline)."""
    while count > 0:
        day += ONE_DAY
        if day.weekday() < 5:
            count -= 1
    return day
