"""CN-01 and US-01: no contact in the nightly quiet window or a time the borrower named, both
read on the borrower's wall clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import cast

from shared.contact_rules.clock import first_instant, in_window
from shared.contact_rules.packs import Rule, RulePack
from shared.contact_rules.params import QuietWindowParams
from shared.contact_rules.rules.base import Evaluate, Finding, Situation, merge
from shared.events.models import ConsentKind, InconvenientTime

ONE_DAY = timedelta(days=1)


def build(rule: Rule, pack: RulePack) -> Evaluate:
    params = cast(QuietWindowParams, rule.params)
    channels = frozenset(params.channels)
    start, end = params.start, params.end

    def evaluate(s: Situation) -> Finding | None:
        contact = s.contact
        if not contact.outbound or contact.channel not in channels:
            return None
        reading = s.local.time()
        problems: list[tuple[str, tuple[str, ...], datetime | None]] = []
        if in_window(reading, start, end) and not (
            params.consent_lifts
            and s.facts.consents_at(ConsentKind.CONTACT_IN_QUIET_HOURS, contact.at, contact.channel)
        ):
            end_day = s.day + ONE_DAY if start > end and reading >= start else s.day
            retry = first_instant(end_day, end, s.tz, not_before=contact.at)
            text = (
                f"{s.local:%H:%M} in {s.tz.key} is inside the quiet window "
                f"{start:%H:%M}–{end:%H:%M} of the borrower's local time"
            )
            problems.append((text, (), retry))
        if params.honour_named_times:
            for window in s.facts.inconvenient_times:
                named_end = _named_window_end(window, s)
                if named_end is not None:
                    text = (
                        f"{s.local:%a %H:%M} in {s.tz.key} is a time the borrower named as "
                        f"inconvenient ({window.start:%H:%M}–{window.end:%H:%M})"
                    )
                    problems.append((text, (), named_end))
        return merge(rule.id, problems) if problems else None

    return evaluate


def _named_window_end(window: InconvenientTime, s: Situation) -> datetime | None:
    """When the named window that holds the contact ends, or ``None`` if it does not hold it."""
    reading, weekday = s.local.time(), s.local.weekday()
    days = window.weekdays
    if window.start == window.end:
        return s.day_start(1) if weekday in days else None
    if window.start < window.end:
        if weekday in days and window.start <= reading < window.end:
            return _end(s, 0, window.end)
        return None
    if weekday in days and reading >= window.start:
        return _end(s, 1, window.end)
    if (weekday - 1) % 7 in days and reading < window.end:
        return _end(s, 0, window.end)
    return None


def _end(s: Situation, days_from_today: int, end: time) -> datetime:
    return first_instant(s.day + timedelta(days=days_from_today), end, s.tz, s.contact.at)
