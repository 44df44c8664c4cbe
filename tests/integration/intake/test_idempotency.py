"""Retries are safe: an ``Idempotency-Key`` replays the first answer; without one, a report is
the same report when lender, loan and ``as_of`` (the instant) match, and a payment when its
``payment_id`` does. Either way there is one event, one outbox row."""

import asyncio
from uuid import uuid4

import httpx

from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
)
from tests.support.factories import (
    later_report,
    new_loan_id,
    payment,
    report,
)


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_the_same_key_and_body_replay_the_first_answer(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id, key = new_loan_id(), str(uuid4())
    first = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers=with_key(lender, key)
    )
    again = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers=with_key(lender, key)
    )

    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await tables.outbox_rows(first.json()["event_id"]) == 1
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def test_the_same_key_with_another_body_is_a_conflict(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id, key = new_loan_id(), str(uuid4())
    first = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers=with_key(lender, key)
    )
    assert first.status_code == 202, first.text

    other_body = later_report(loan_id, days_later=1)
    response = await intake.post(
        "/v1/overdue-loans", json=other_body, headers=with_key(lender, key)
    )
    assert_problem(response, 409)

    elsewhere = await intake.post(
        f"/v1/loans/{loan_id}/recall", json={}, headers=with_key(lender, key)
    )
    assert_problem(elsewhere, 409)
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def test_a_replayed_batch_is_the_first_answer(
    intake: httpx.AsyncClient, lender: dict[str, str], tables: IntakeTables
) -> None:
    key = str(uuid4())
    items = {"items": [report(new_loan_id()), report(new_loan_id())]}
    first = await intake.post("/v1/overdue-loans/batch", json=items, headers=with_key(lender, key))
    again = await intake.post("/v1/overdue-loans/batch", json=items, headers=with_key(lender, key))
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    for result in first.json()["results"]:
        assert result["status"] == "accepted"
        assert await tables.outbox_rows(result["event_id"]) == 1


async def test_without_a_key_a_report_is_identified_by_loan_and_as_of(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    first = await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)
    # The same instant written in UTC, and figures that differ: still that report.
    same_instant = report(
        loan_id,
        as_of="2026-11-28T01:00:00Z",
        amount_overdue={"amount": "1300.00", "currency": "CNY"},
    )
    again = await intake.post("/v1/overdue-loans", json=same_instant, headers=lender)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }
    loan = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    assert loan["amount_overdue"]["amount"] == "1250.00"


async def test_without_a_key_a_payment_is_identified_by_its_id(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)).is_success
    url, payment_id = f"/v1/loans/{loan_id}/payments", f"P-{uuid4().hex[:8]}"
    first = await intake.post(url, json=payment(payment_id, "250.00"), headers=lender)
    again = await intake.post(url, json=payment(payment_id, "250.00"), headers=lender)

    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["status"] == "accepted"
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert again.json()["outstanding"] == {"amount": "1000.00", "currency": "CNY"}
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }


async def test_a_payment_id_already_used_on_another_loan_is_a_conflict(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    """Payment ids are unique per lender: reusing one on another loan is not a retry."""
    paid, other = new_loan_id(), new_loan_id()
    for loan_id in (paid, other):
        assert (
            await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)
        ).is_success
    payment_id = f"P-{uuid4().hex[:8]}"
    first = await intake.post(
        f"/v1/loans/{paid}/payments", json=payment(payment_id, "1.00"), headers=lender
    )
    assert first.status_code == 202, first.text

    response = await intake.post(
        f"/v1/loans/{other}/payments", json=payment(payment_id, "1.00"), headers=lender
    )

    assert_problem(response, 409)
    assert await tables.rows_about(lender_id, other) == {"loans": 1, "loan_events": 1, "outbox": 1}


async def test_concurrent_requests_with_one_key_make_one_event(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id, key = new_loan_id(), str(uuid4())
    responses = await asyncio.gather(
        *(
            intake.post("/v1/overdue-loans", json=report(loan_id), headers=with_key(lender, key))
            for _ in range(10)
        )
    )

    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def test_concurrent_identical_reports_without_a_key_make_one_event(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    responses = await asyncio.gather(
        *(intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender) for _ in range(10))
    )

    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 1,
        "outbox": 1,
    }


async def test_concurrent_payments_with_one_key_pay_once(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id, key, body = new_loan_id(), str(uuid4()), payment(f"P-{uuid4().hex[:8]}", "100.00")
    assert (await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)).is_success
    responses = await asyncio.gather(
        *(
            intake.post(
                f"/v1/loans/{loan_id}/payments",
                json=body,
                headers=with_key(lender, key),
            )
            for _ in range(10)
        )
    )

    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["event_id"] for r in responses}) == 1
    loan = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    assert loan["outstanding"] == {"amount": "1150.00", "currency": "CNY"}
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }
