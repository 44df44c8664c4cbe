"""Hostile and odd input never gives a server error: garbage bodies, deep nesting, and values
that are valid JSON but that no store or encoder can hold (NUL characters, unpaired surrogates,
amounts beyond NUMERIC(20, 4), instants past the year 9999 in UTC) are refused with the field
named, and nothing is written. Bodies go out as ASCII JSON so that ``"\\ud800"`` travels as the
escape a lender's JSON library would send."""

from typing import Any

import httpx
import pytest

from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
    send_json,
)
from tests.support.factories import (
    changed,
    new_loan_id,
    payment,
    report,
)

NOTHING = {"loans": 0, "loan_events": 0, "outbox": 0}


GARBAGE: list[Any] = [
    None,
    [],
    [report("L-garbage")],
    "a string",
    12345,
    True,
    {"loan_id": None, "borrower": None},
    {"loan_id": ["L-1"], "borrower": [], "amount_overdue": {"amount": {"$gt": 0}}},
    {"borrower": {"name": {"name": {"name": {}}}}},
    {"loan_id": "L-1" * 5000},
    {"surprise": "x" * 60_000},
    {"\ud800": "\u0000"},
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize(
    "path",
    [
        "/v1/overdue-loans",
        "/v1/overdue-loans/batch",
        "/v1/loans/L-garbage/payments",
        "/v1/loans/L-garbage/holds",
        "/v1/loans/L-garbage/recall",
        "/v1/loans/L-garbage/close",
        "/v1/borrowers/B-1/contact-preferences",
    ],
)
async def test_garbage_never_gives_a_server_error(
    intake: httpx.AsyncClient, lender: dict[str, str], path: str, body: Any
) -> None:
    method = "PUT" if path.endswith("contact-preferences") else "POST"
    response = await send_json(intake, method, path, body, lender)
    assert response.status_code in (400, 404, 413, 422), response.text
    assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("product", "consumer\u0000credit", "product"),
        ("product", "\ud800", "product"),
        ("borrower.name", "\ud800\udfff\ud800", "borrower.name"),
        ("borrower.name", "张三\u0000", "borrower.name"),
        ("borrower.locale", "zh-CN\n", "borrower.locale"),
        ("amount_overdue.amount", "1" + "0" * 30, "amount_overdue.amount"),
        ("amount_overdue.amount", "1e400", "amount_overdue.amount"),
        ("amount_overdue.amount", "0." + "0" * 1000 + "1", "amount_overdue"),
        ("days_past_due", 10**30, "days_past_due"),
        ("as_of", "9999-12-31T23:59:59+14:00", "as_of"),
        ("due_date", "0001-01-01", "due_date"),
    ],
)
async def test_values_no_store_can_hold_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan_id: str,
    path: str,
    value: Any,
    field: str,
) -> None:
    """NUL characters, unpaired surrogates, amounts beyond NUMERIC(20, 4), far-off dates."""
    body = changed(report(loan_id), path, value)
    response = await send_json(intake, "POST", "/v1/overdue-loans", body, lender)
    assert_problem(response, 422, field)
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


async def test_the_last_instant_of_year_9999_is_refused(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    """Consistent figures, but as of an instant that is in the year 10000 in UTC (and due in
    9999, which is not a plausible due date either)."""
    loan_id = new_loan_id()
    body = report(
        loan_id, due_date="9999-11-01", days_past_due=60, as_of="9999-12-31T23:59:59-12:00"
    )
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    assert_problem(response, 422, "due_date", "as_of")
    assert await tables.rows_about(lender_id, loan_id) == NOTHING


FAR_OFF = "9999-12-31T23:59:59-12:00"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "recall", {"reason": "a\u0000b"}, "reason"),
        ("POST", "recall", {"recalled_at": FAR_OFF}, "recalled_at"),
        ("POST", "close", {"reason": "settled", "closed_at": FAR_OFF}, "closed_at"),
        ("POST", "payments", {**payment("P-far", "1.00"), "paid_at": FAR_OFF}, "paid_at"),
        ("PUT", "preferences", {"effective_at": FAR_OFF}, "effective_at"),
        (
            "PUT",
            "preferences",
            {
                "consents": [
                    {
                        "kind": "direct_call_consent",
                        "granted": True,
                        "recorded_at": "2026-11-28T09:00:00+08:00",
                        "evidence_ref": "ticket\u0000 42",
                    }
                ]
            },
            "consents.0.evidence_ref",
        ),
    ],
)
async def test_odd_values_after_the_report_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    reported_loan: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    await _refused_and_nothing_written(
        intake, lender, lender_id, tables, reported_loan, method, path, body, field
    )


@pytest.mark.parametrize("depth", [100, 5_000, 30_000])
async def test_deep_nesting_never_gives_a_server_error(
    intake: httpx.AsyncClient, lender: dict[str, str], depth: int
) -> None:
    nested = '{"loan_id": ' + "[" * depth + "]" * depth + "}"
    response = await intake.post(
        "/v1/overdue-loans",
        content=nested,
        headers={**lender, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 413, 422), response.text
    assert_problem(response, response.status_code)


FUTURE = "2090-01-01T09:00:00+08:00"
BEFORE_1970 = "1969-12-31T23:59:59+00:00"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("as_of", FUTURE, "as_of"),
        ("as_of", BEFORE_1970, "as_of"),
        ("due_date", "1969-12-31", "due_date"),
        ("due_date", "2090-01-01", "due_date"),
        ("due_date", "9999-12-31", "due_date"),
    ],
)
async def test_implausible_dates_of_a_report_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan_id: str,
    path: str,
    value: str,
    field: str,
) -> None:
    """An as_of in 2090 would make every genuine report stale; 9999-12-31 overflows consumers."""
    await _report_refused_and_nothing_written(
        intake, lender, lender_id, tables, changed(report(loan_id), path, value), field
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "recall", {"recalled_at": FUTURE}, "recalled_at"),
        ("POST", "close", {"reason": "settled", "closed_at": FUTURE}, "closed_at"),
        ("POST", "close", {"reason": "settled", "closed_at": BEFORE_1970}, "closed_at"),
        ("POST", "payments", {**payment("P-future", "1.00"), "paid_at": FUTURE}, "paid_at"),
        ("PUT", "preferences", {"effective_at": FUTURE}, "effective_at"),
        (
            "PUT",
            "preferences",
            {"consents": [{"kind": "direct_call_consent", "granted": True, "recorded_at": FUTURE}]},
            "consents.0.recorded_at",
        ),
    ],
)
async def test_implausible_dates_after_the_report_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    reported_loan: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    await _refused_and_nothing_written(
        intake, lender, lender_id, tables, reported_loan, method, path, body, field
    )


async def test_payments_that_would_sum_past_the_largest_amount_conflict(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan_id: str,
) -> None:
    """Payments since the report are summed in NUMERIC(20, 4): the domain refuses first."""
    largest = "999999999999999.00"
    body = report(loan_id, amount_overdue={"amount": largest, "currency": "CNY"})
    assert (await intake.post("/v1/overdue-loans", json=body, headers=lender)).status_code == 202
    first = await intake.post(
        f"/v1/loans/{loan_id}/payments", json=payment("P-big-1", largest), headers=lender
    )
    assert first.status_code == 202, first.text
    for number in range(2, 12):
        response = await intake.post(
            f"/v1/loans/{loan_id}/payments",
            json=payment(f"P-big-{number}", largest),
            headers=lender,
        )
        problem = assert_problem(response, 409)
        assert "payments since the report" in problem["detail"], problem
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("amount_overdue.amount", "1E+3", "amount_overdue.amount"),
        ("amount_overdue.amount", "+1250.00", "amount_overdue.amount"),
        ("amount_overdue.amount", 1250, "amount_overdue.amount"),
        ("borrower.name", "Zhang\u202eSan", "borrower.name"),
        ("borrower.name", "Zhang\x07San", "borrower.name"),
        ("product", "consumer\u2066credit", "product"),
        ("product", "consumer\ncredit", "product"),
    ],
)
async def test_exponents_controls_and_bidi_overrides_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan_id: str,
    path: str,
    value: Any,
    field: str,
) -> None:
    await _report_refused_and_nothing_written(
        intake, lender, lender_id, tables, changed(report(loan_id), path, value), field
    )


def _window(**changes: Any) -> dict[str, Any]:
    return {"inconvenient_times": [{"start": "20:00", "end": "09:00", **changes}]}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "payments", payment("P-exp", "1e2"), "amount.amount"),
        ("POST", "recall", {"reason": "fraud\u202e"}, "reason"),
        ("POST", "recall", {"reason": "fraud\r\nX-Injected: 1"}, "reason"),
        ("PUT", "preferences", _window(weekdays=[99]), "inconvenient_times.0.weekdays.0"),
        ("PUT", "preferences", _window(weekdays=[-5]), "inconvenient_times.0.weekdays.0"),
        ("PUT", "preferences", _window(weekdays=[1, 1]), "inconvenient_times.0.weekdays"),
        ("PUT", "preferences", _window(start="20:00+08:00"), "inconvenient_times.0.start"),
        ("PUT", "preferences", _window(end="09:00Z"), "inconvenient_times.0.end"),
    ],
)
async def test_exponents_weekdays_and_controls_after_the_report_are_refused(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    reported_loan: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    await _refused_and_nothing_written(
        intake, lender, lender_id, tables, reported_loan, method, path, body, field
    )


async def _refused_and_nothing_written(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    reported_loan: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    """A change to the reported loan is a 422 naming ``field``, and writes nothing."""
    url = (
        "/v1/borrowers/B-odd/contact-preferences"
        if path == "preferences"
        else f"/v1/loans/{reported_loan}/{path}"
    )
    response = await send_json(intake, method, url, body, lender)
    assert_problem(response, 422, field)
    assert await tables.rows_about(lender_id, reported_loan) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def _report_refused_and_nothing_written(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    body: dict[str, Any],
    field: str,
) -> None:
    """A report is a 422 naming ``field``, and nothing about its loan is written."""
    response = await send_json(intake, "POST", "/v1/overdue-loans", body, lender)
    assert_problem(response, 422, field)
    assert await tables.rows_about(lender_id, body["loan_id"]) == NOTHING
