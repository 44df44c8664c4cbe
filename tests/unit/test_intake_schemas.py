"""The lender-facing contract: every validation rule of an overdue report."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.api.schemas import OverdueLoanReport
from tests.support.factories import VALID_REPORT as VALID
from tests.support.factories import changed


def with_change(path: str, value: Any) -> dict[str, Any]:
    return changed(VALID, path, value)


def failing_fields(body: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        OverdueLoanReport.model_validate(body)
    return {".".join(str(p) for p in error["loc"]) for error in caught.value.errors()}


def test_the_documented_example_is_valid() -> None:
    report = OverdueLoanReport.model_validate(VALID)
    assert report.amount_overdue.amount.as_tuple().exponent == -2
    assert report.days_past_due == 27


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("borrower.phone", "13800138000", "borrower.phone"),
        ("borrower.phone", "+86 138 0013 8000", "borrower.phone"),
        ("borrower.phone", "+999123", "borrower.phone"),
        ("borrower.email", "not-an-email", "borrower.email"),
        ("borrower.timezone", "China/Beijing", "borrower.timezone"),
        ("borrower.timezone", "../../etc/passwd", "borrower.timezone"),
        ("borrower.locale", "chinese", "borrower.locale"),
        ("borrower.name", "", "borrower.name"),
        ("jurisdiction", "XX", "jurisdiction"),
        ("amount_overdue.amount", 1250.0, "amount_overdue.amount"),
        ("amount_overdue.amount", "12.345", "amount_overdue"),
        ("amount_overdue.amount", "0", "amount_overdue"),
        ("amount_overdue.amount", "-5.00", "amount_overdue"),
        ("amount_overdue.amount", "NaN", "amount_overdue.amount"),
        ("amount_overdue.currency", "XYZ", "amount_overdue.currency"),
        ("days_past_due", 3, "days_past_due"),
        ("days_past_due", "27", "days_past_due"),
        ("days_past_due", 0, "days_past_due"),
        ("as_of", "2026-11-28T09:00:00", "as_of"),
        ("due_date", "01/11/2026", "due_date"),
        ("loan_id", "", "loan_id"),
        ("loan_id", "L 1; DROP TABLE", "loan_id"),
        ("loan_id", ..., "loan_id"),
        ("borrower.id", ..., "borrower.id"),
        ("surprise", "field", "surprise"),
        ("borrower.ssn", "123-45-6789", "borrower.ssn"),
    ],
)
def test_a_bad_field_is_named(path: str, value: Any, field: str) -> None:
    assert field in failing_fields(with_change(path, value))


def test_currencies_without_minor_units_reject_decimals() -> None:
    body = with_change("amount_overdue", {"amount": "1250.5", "currency": "JPY"})
    assert "amount_overdue" in failing_fields(body)
    body = with_change("amount_overdue", {"amount": "1250", "currency": "JPY"})
    assert OverdueLoanReport.model_validate(body).amount_overdue.currency == "JPY"


def test_days_past_due_may_differ_by_one_day_across_time_zones() -> None:
    assert OverdueLoanReport.model_validate(with_change("days_past_due", 26)).days_past_due == 26
    assert "days_past_due" in failing_fields(with_change("days_past_due", 29))


def test_a_loan_not_yet_due_is_not_overdue() -> None:
    body = with_change("due_date", "2026-11-28")
    body["days_past_due"] = 1
    assert "days_past_due" in failing_fields(body)
