"""Every validation rule over HTTP: a clear problem+json naming the field, and nothing written.

"Nothing written" is checked in intake's own tables: no loan, no history row and no outbox row
about the loan of the refused request.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.intake.api.schemas import MAX_BATCH_ITEMS
from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
)
from tests.support.factories import (
    changed,
    new_loan_id,
    payment,
    report,
)

NOTHING = {"loans": 0, "loan_events": 0, "outbox": 0}


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
        ("borrower.id", ..., "borrower.id"),
        ("jurisdiction", "XX", "jurisdiction"),
        ("jurisdiction", "cn", "jurisdiction"),
        ("amount_overdue.currency", "XYZ", "amount_overdue.currency"),
        ("amount_overdue.currency", "cny", "amount_overdue.currency"),
        ("amount_overdue.amount", "12.345", "amount_overdue"),  # CNY has 2 decimals
        ("amount_overdue", {"amount": "1250.5", "currency": "JPY"}, "amount_overdue"),
        ("amount_overdue", {"amount": "1.2345", "currency": "KWD"}, "amount_overdue"),
        ("amount_overdue.amount", "0", "amount_overdue"),
        ("amount_overdue.amount", "0.00", "amount_overdue"),
        ("amount_overdue.amount", "-5.00", "amount_overdue"),
        ("amount_overdue.amount", 1250.0, "amount_overdue.amount"),  # a JSON float
        ("amount_overdue.amount", "NaN", "amount_overdue.amount"),
        ("amount_overdue.amount", "Infinity", "amount_overdue.amount"),
        ("amount_overdue.amount", "twelve", "amount_overdue.amount"),
        ("days_past_due", 3, "days_past_due"),  # due 2026-11-01, as of 11-28: 27 days
        ("days_past_due", 29, "days_past_due"),
        ("days_past_due", "27", "days_past_due"),
        ("days_past_due", 27.0, "days_past_due"),
        ("days_past_due", 0, "days_past_due"),
        ("due_date", "2026-11-28", "days_past_due"),  # not past due as of 2026-11-28
        ("due_date", "01/11/2026", "due_date"),
        ("as_of", "2026-11-28T09:00:00", "as_of"),  # no offset
        ("as_of", "2026-11-28", "as_of"),
        ("loan_id", "L 1; DROP TABLE loans", "loan_id"),
        ("loan_id", "x" * 65, "loan_id"),
        ("product", "", "product"),
        ("surprise", "field", "surprise"),
        ("borrower.ssn", "123-45-6789", "borrower.ssn"),
    ],
)
async def test_a_bad_report_names_the_field_and_writes_nothing(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan_id: str,
    path: str,
    value: Any,
    field: str,
) -> None:
    body = changed(report(loan_id), path, value)
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    problem = assert_problem(response, 422, field)
    assert field in problem["detail"]
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_every_bad_field_is_named_at_once(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    body = changed(report(loan_id), "borrower.phone", "12345")
    body = changed(body, "amount_overdue.currency", "XYZ")
    body = changed(body, "jurisdiction", "XX")
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    assert_problem(response, 422, "borrower.phone", "amount_overdue.currency", "jurisdiction")
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_errors_never_echo_what_was_sent(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    body = changed(report(new_loan_id()), "borrower.email", "张三-not-an-address")
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    assert_problem(response, 422, "borrower.email")
    assert "张三" not in response.text


async def test_malformed_json_is_refused(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    broken = json.dumps(report(loan_id))[:-20]
    response = await intake.post(
        "/v1/overdue-loans",
        content=broken,
        headers={**lender, "Content-Type": "application/json"},
    )
    assert_problem(response, 422, "body")
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_a_body_not_sent_as_json_is_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    content_type: str | None,
) -> None:
    loan_id = new_loan_id()
    headers = lender if content_type is None else {**lender, "Content-Type": content_type}
    response = await intake.post(
        "/v1/overdue-loans", content=json.dumps(report(loan_id)), headers=headers
    )
    assert_problem(response, 415, "Content-Type")
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_a_body_over_the_limit_is_413(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    body = report(loan_id, product="p" * (65 * 1024))
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    assert_problem(response, 413)
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_a_streamed_body_over_the_limit_is_413(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    """Without a Content-Length (chunked), the limit counts the bytes as they arrive."""
    loan_id = new_loan_id()
    encoded = json.dumps(report(loan_id, product="p" * (65 * 1024))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(encoded), 8192):
            yield encoded[start : start + 8192]

    response = await intake.post(
        "/v1/overdue-loans",
        content=chunks(),
        headers={**lender, "Content-Type": "application/json"},
    )
    assert_problem(response, 413)
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_a_batch_of_more_than_a_thousand_is_refused_whole(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_ids = [new_loan_id() for _ in range(MAX_BATCH_ITEMS + 1)]
    items = [report(loan_id) for loan_id in loan_ids]
    response = await intake.post("/v1/overdue-loans/batch", json={"items": items}, headers=lender)
    assert_problem(response, 422, "items")
    for loan_id in (loan_ids[0], loan_ids[-1]):
        assert await tables.rows_about(lender_id, loan_id) == NOTHING


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_json_with_parameters_or_an_empty_body_is_read_as_json(
    intake: httpx.AsyncClient, lender: dict[str, str], content_type: str
) -> None:
    headers = {**lender, "Content-Type": content_type}
    empty = await intake.post("/v1/overdue-loans", content=b"", headers=headers)
    assert_problem(empty, 422, "body")
    valid = await intake.post(
        "/v1/overdue-loans", content=json.dumps(report(new_loan_id())), headers=headers
    )
    assert valid.status_code == 202, valid.text


async def test_an_empty_batch_is_refused(intake: httpx.AsyncClient, lender: dict[str, str]) -> None:
    response = await intake.post("/v1/overdue-loans/batch", json={"items": []}, headers=lender)
    assert_problem(response, 422, "items")


async def test_an_unusable_idempotency_key_is_refused(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    response = await intake.post(
        "/v1/overdue-loans",
        json=report(loan_id),
        headers={**lender, "Idempotency-Key": "k" * 256},
    )
    assert_problem(response, 422, "Idempotency-Key")
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("amount.amount", 10.5, "amount.amount"),
        ("amount.amount", "0.00", "amount"),
        ("amount.amount", "-1.00", "amount"),
        ("amount.amount", "1.001", "amount"),
        ("amount.currency", "XYZ", "amount.currency"),
        ("amount", "10.00", "amount"),
        ("paid_at", "2026-11-29T10:00:00", "paid_at"),
        ("payment_id", ..., "payment_id"),
        ("payment_id", "P 1", "payment_id"),
        ("method", "card", "method"),
    ],
)
async def test_a_bad_payment_names_the_field_and_writes_nothing(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    reported_loan: str,
    path: str,
    value: Any,
    field: str,
) -> None:
    body = changed(payment("P-1", "10.00"), path, value)
    response = await intake.post(f"/v1/loans/{reported_loan}/payments", json=body, headers=lender)
    assert_problem(response, 422, field)
    assert await tables.rows_about(lender_id, reported_loan) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def test_a_bad_loan_id_in_the_path_is_named(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    response = await intake.post(
        "/v1/loans/bad%20id/payments", json=payment("P-1", "10.00"), headers=lender
    )
    assert_problem(response, 422, "path.loan_id")
