"""A loan's state follows the newest report; older reports join the history and change nothing."""

from typing import Any

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


async def post_report(
    intake: httpx.AsyncClient, lender: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await intake.post("/v1/overdue-loans", json=body, headers=lender)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def get_loan(
    intake: httpx.AsyncClient, lender: dict[str, str], loan_id: str
) -> dict[str, Any]:
    response = await intake.get(f"/v1/loans/{loan_id}", headers=lender)
    assert response.status_code == 200, response.text
    loan: dict[str, Any] = response.json()
    return loan


async def test_a_later_report_updates_the_loan(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    loan_id = new_loan_id()
    first = await post_report(intake, lender, report(loan_id))
    second = await post_report(intake, lender, later_report(loan_id, 2, amount="1400.00"))

    loan = await get_loan(intake, lender, loan_id)
    assert loan["status"] == "delinquent"
    assert loan["days_past_due"] == 29
    assert loan["amount_overdue"] == {"amount": "1400.00", "currency": "CNY"}
    assert loan["outstanding"] == {"amount": "1400.00", "currency": "CNY"}
    assert loan["as_of"].startswith("2026-11-30")
    assert [(h["event_id"], h["details"]["outcome"]) for h in loan["history"]] == [
        (first["event_id"], "opened"),
        (second["event_id"], "updated"),
    ]
    assert loan["borrower_ref"].startswith("bref_")
    assert (loan["jurisdiction"], loan["product"], loan["due_date"]) == (
        "CN",
        "consumer-credit",
        "2026-11-01",
    )


async def test_an_older_report_is_history_but_does_not_roll_the_loan_back(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    newer = await post_report(intake, lender, later_report(loan_id, 2, amount="900.00"))
    older = await post_report(intake, lender, report(loan_id))

    assert older["status"] == "accepted"
    assert older["event_id"] != newer["event_id"]
    loan = await get_loan(intake, lender, loan_id)
    assert loan["days_past_due"] == 29
    assert loan["amount_overdue"] == {"amount": "900.00", "currency": "CNY"}
    assert [h["details"]["outcome"] for h in loan["history"]] == ["opened", "stale"]
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }


async def test_a_newer_report_is_the_lenders_whole_truth_after_payments(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    """Reports state what is overdue as of their time, payments included."""
    loan_id = new_loan_id()
    await post_report(intake, lender, report(loan_id))
    paid = await intake.post(
        f"/v1/loans/{loan_id}/payments", json=payment(f"P-{loan_id}", "1250.00"), headers=lender
    )
    assert paid.json()["loan_status"] == "cured"

    await post_report(intake, lender, later_report(loan_id, 2, amount="300.00"))

    loan = await get_loan(intake, lender, loan_id)
    assert loan["status"] == "delinquent"
    assert loan["outstanding"] == {"amount": "300.00", "currency": "CNY"}


async def test_an_unknown_loan_is_404(intake: httpx.AsyncClient, lender: dict[str, str]) -> None:
    assert_problem(await intake.get(f"/v1/loans/{new_loan_id()}", headers=lender), 404)
