"""Pure rules of the services: report outcomes, reminder plans, placement eligibility."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.agency_gateway.domain import CaseStatus, PlacementPolicy
from services.intake.domain import (
    KnownLoan,
    LoanConflictError,
    LoanState,
    LoanStatus,
    ReportOutcome,
    outcome_of,
)
from services.notifier.domain import (
    DEFAULT_CADENCE,
    SEND_AT,
    Channel,
    ReminderStatus,
    plan_reminders,
)

SHANGHAI = timezone(timedelta(hours=8))


def test_a_newer_report_updates_and_an_older_one_is_stale() -> None:
    known = KnownLoan(
        as_of=datetime(2026, 11, 28, 9, tzinfo=SHANGHAI), status=LoanStatus.DELINQUENT
    )
    assert outcome_of(None, known.as_of) is ReportOutcome.OPENED
    assert outcome_of(known, known.as_of + timedelta(days=1)) is ReportOutcome.UPDATED
    assert outcome_of(known, known.as_of - timedelta(days=1)) is ReportOutcome.STALE
    assert outcome_of(known, known.as_of) is ReportOutcome.STALE


def test_a_closed_loan_takes_no_more_reports() -> None:
    closed = KnownLoan(as_of=datetime(2026, 11, 28, tzinfo=UTC), status=LoanStatus.CLOSED)
    with pytest.raises(LoanConflictError):
        outcome_of(closed, datetime(2026, 11, 29, tzinfo=UTC))


REPORTED = datetime(2026, 11, 28, 9, tzinfo=SHANGHAI)


def delinquent(amount: str = "1250.00") -> LoanState:
    return LoanState(LoanStatus.DELINQUENT, "CNY", Decimal(amount), REPORTED, Decimal(0))


def test_partial_payments_lower_the_outstanding_and_the_full_one_cures() -> None:
    later = REPORTED + timedelta(hours=1)
    partial = delinquent().with_payment(Decimal("880.00"), "CNY", later)
    assert (partial.status, partial.outstanding) == (LoanStatus.DELINQUENT, Decimal("370.00"))
    cured = partial.with_payment(Decimal("370.00"), "CNY", later)
    assert (cured.status, cured.outstanding) == (LoanStatus.CURED, Decimal(0))


def test_a_payment_before_the_report_is_already_counted_in_it() -> None:
    state = delinquent().with_payment(Decimal("100.00"), "CNY", REPORTED - timedelta(days=1))
    assert state.outstanding == Decimal("1250.00")


def test_payments_in_another_currency_or_on_a_closed_loan_conflict() -> None:
    with pytest.raises(LoanConflictError):
        delinquent().with_payment(Decimal("1"), "USD", REPORTED + timedelta(hours=1))
    with pytest.raises(LoanConflictError):
        delinquent().closed().with_payment(Decimal("1"), "CNY", REPORTED + timedelta(hours=1))
    with pytest.raises(LoanConflictError):
        delinquent().closed().closed()


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
