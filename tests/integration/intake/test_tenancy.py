"""A lender sees and changes only its own loans (roles and keys: ``test_auth_matrix`` and
``test_credential_registry``)."""

import asyncio
from uuid import uuid4

import httpx

from shared.auth import IssuedKey
from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
)
from tests.support.factories import (
    new_loan_id,
    payment,
    report,
)


async def test_another_lenders_loan_is_not_found(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    as_lender_two: dict[str, str],
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)).is_success
    hold = await intake.post(
        f"/v1/loans/{loan_id}/holds", json={"reason": "dispute"}, headers=lender
    )
    hold_id = hold.json()["hold_id"]
    before = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    written = await tables.rows_about(lender_id, loan_id)

    loan_url = f"/v1/loans/{loan_id}"
    attempts = [
        intake.get(loan_url, headers=as_lender_two),
        intake.post(f"{loan_url}/payments", json=payment("P-x", "1.00"), headers=as_lender_two),
        intake.post(f"{loan_url}/holds", json={"reason": "dispute"}, headers=as_lender_two),
        intake.delete(f"{loan_url}/holds/{hold_id}", headers=as_lender_two),
        intake.post(f"{loan_url}/recall", json={}, headers=as_lender_two),
        intake.post(f"{loan_url}/close", json={"reason": "settled"}, headers=as_lender_two),
    ]
    for response in await asyncio.gather(*attempts):
        assert_problem(response, 404)

    assert (await intake.get(loan_url, headers=lender)).json() == before
    assert await tables.rows_about(lender_id, loan_id) == written


async def test_two_lenders_may_use_the_same_loan_id(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    as_lender_two: dict[str, str],
    lender_two: IssuedKey,
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    key = str(uuid4())  # one Idempotency-Key for both: keys are per lender too
    ones = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers={**lender, "Idempotency-Key": key}
    )
    theirs = report(loan_id, amount_overdue={"amount": "77.00", "currency": "CNY"})
    twos = await intake.post(
        "/v1/overdue-loans", json=theirs, headers={**as_lender_two, "Idempotency-Key": key}
    )

    assert (ones.status_code, twos.status_code) == (202, 202)
    assert "Idempotent-Replayed" not in twos.headers
    assert ones.json()["event_id"] != twos.json()["event_id"]
    one = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    two = (await intake.get(f"/v1/loans/{loan_id}", headers=as_lender_two)).json()
    assert one["amount_overdue"]["amount"] == "1250.00"
    assert two["amount_overdue"]["amount"] == "77.00"
    assert [h["event_id"] for h in one["history"]] == [ones.json()["event_id"]]
    assert [h["event_id"] for h in two["history"]] == [twos.json()["event_id"]]
    assert one["borrower_ref"] != two["borrower_ref"]  # pseudonyms are per lender

    closed = await intake.post(
        f"/v1/loans/{loan_id}/close", json={"reason": "written_off"}, headers=as_lender_two
    )
    assert closed.status_code == 202
    assert (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()["status"] == (
        "delinquent"
    )
    assert await tables.rows_about(lender_two.tenant, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }
