"""Valid reports, payments and commands, as lenders send them; tests change what they test.

The one place a valid overdue report is written out for the tests.
"""

import copy
from datetime import datetime
from typing import Any
from uuid import uuid4

from services.intake.api.schemas import OverdueLoanReport, PaymentReport
from services.intake.domain.commands import OverdueReport, RecordPayment

VALID_REPORT: dict[str, Any] = {
    "loan_id": "L-2026-000123",
    "borrower": {
        "id": "B-88231",
        "name": "张三",
        "phone": "+8613800138000",
        "email": "zhangsan@example.com",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
    },
    "jurisdiction": "CN",
    "product": "consumer-credit",
    "amount_overdue": {"amount": "1250.00", "currency": "CNY"},
    "due_date": "2026-11-01",
    "days_past_due": 27,
    "as_of": "2026-11-28T09:00:00+08:00",
}

# What the lender sends that is personal data; none of it may rest or travel in plaintext.
NAME = VALID_REPORT["borrower"]["name"]
PHONE = VALID_REPORT["borrower"]["phone"]
EMAIL = VALID_REPORT["borrower"]["email"]


def new_loan_id(prefix: str = "L") -> str:
    return f"{prefix}-{uuid4().hex[:16]}"


def report(loan_id: str, **changes: Any) -> dict[str, Any]:
    """The documented example report, about ``loan_id``, with top-level ``changes``."""
    body = copy.deepcopy(VALID_REPORT)
    body["loan_id"] = loan_id
    body.update(changes)
    return body


def later_report(loan_id: str, days_later: int, amount: str = "1250.00") -> dict[str, Any]:
    """The example report ``days_later`` days on (November 2026, so at most 2 days)."""
    day = 28 + days_later
    return report(
        loan_id,
        days_past_due=27 + days_later,
        as_of=f"2026-11-{day:02d}T09:00:00+08:00",
        amount_overdue={"amount": amount, "currency": "CNY"},
    )


def payment(
    payment_id: str, amount: str, currency: str = "CNY", paid_at: str = "2026-11-29T10:00:00+08:00"
) -> dict[str, Any]:
    """A payment made after the example report's ``as_of``, so it lowers what is outstanding."""
    return {
        "payment_id": payment_id,
        "amount": {"amount": amount, "currency": currency},
        "paid_at": paid_at,
    }


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the field at dotted ``path`` set to ``value`` (``...`` drops it)."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


def overdue_report(loan_id: str | None = None, **changes: Any) -> OverdueReport:
    """An overdue-report command, as the API maps a valid request body."""
    return OverdueLoanReport.model_validate(report(loan_id or new_loan_id(), **changes)).command()


def report_as_of(loan_id: str, as_of: datetime, amount: str = "1250.00") -> OverdueReport:
    """The example report of ``loan_id`` with its figures true at ``as_of``."""
    days = (as_of.date() - datetime(2026, 11, 1).date()).days
    return overdue_report(
        loan_id,
        as_of=as_of.isoformat(),
        days_past_due=days,
        amount_overdue={"amount": amount, "currency": "CNY"},
    )


def record_payment(
    loan_id: str, payment_id: str, amount: str, currency: str = "CNY", **changes: Any
) -> RecordPayment:
    body = payment(payment_id, amount, currency) | changes
    return PaymentReport.model_validate(body).command(loan_id)
