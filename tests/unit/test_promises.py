"""The one rule of promises kept or broken (shared by the agency gateway and compliance)."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from shared.promises import Paid, PromiseStatus, promise_status

MADE = datetime(2026, 11, 10, 9, tzinfo=UTC)
DUE = date(2026, 11, 20)


def paid(amount: str, day: int, currency: str = "CNY") -> Paid:
    return Paid(f"P-{day}-{amount}", Decimal(amount), currency, datetime(2026, 11, day, tzinfo=UTC))


def status(payments: list[Paid], today: date, amount: str = "100.00") -> PromiseStatus:
    return promise_status(Decimal(amount), "CNY", MADE, DUE, payments, today)


def test_the_amount_received_between_the_promise_and_its_date_keeps_it() -> None:
    assert status([paid("100.00", 15)], date(2026, 11, 16)) is PromiseStatus.KEPT
    assert status([paid("60.00", 10), paid("40.00", 20)], date(2026, 12, 1)) is PromiseStatus.KEPT


def test_before_its_date_a_promise_not_yet_paid_in_full_is_pending() -> None:
    assert status([], date(2026, 11, 20)) is PromiseStatus.PENDING
    assert status([paid("99.99", 15)], date(2026, 11, 18)) is PromiseStatus.PENDING


def test_once_its_date_passed_without_the_amount_it_is_broken() -> None:
    assert status([paid("99.99", 15)], date(2026, 11, 21)) is PromiseStatus.BROKEN
    assert status([], date(2026, 11, 21)) is PromiseStatus.BROKEN


def test_payments_outside_the_window_or_in_another_currency_do_not_count() -> None:
    late, early = paid("100.00", 21), paid("100.00", 9)
    assert status([late, early], date(2026, 11, 22)) is PromiseStatus.BROKEN
    assert status([paid("100.00", 15, "USD")], date(2026, 11, 22)) is PromiseStatus.BROKEN


def test_days_are_utc_days_whatever_offset_a_payment_carries() -> None:
    shanghai = timezone(timedelta(hours=8))
    on_the_21st_in_shanghai = Paid(
        "P-1", Decimal("100.00"), "CNY", datetime(2026, 11, 21, 7, tzinfo=shanghai)
    )
    assert status([on_the_21st_in_shanghai], date(2026, 11, 22)) is PromiseStatus.KEPT  # 20th UTC
