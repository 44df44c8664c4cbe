"""Batches of reports: each item stands or falls on its own; what is accepted is written and
published, what is refused leaves no trace."""

import asyncio
from uuid import UUID

import httpx

from shared.events.envelope import message_key
from tests.integration.intake.support import (
    IntakeTables,
    read_topic,
)
from tests.support.factories import (
    changed,
    later_report,
    new_loan_id,
    report,
)


async def test_a_mixed_batch_answers_item_by_item(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    bootstrap: str,
    delinquency_topic: str,
) -> None:
    good, bad_phone, also_good, bad_money, known = (new_loan_id() for _ in range(5))
    first = await intake.post("/v1/overdue-loans", json=report(known), headers=lender)
    assert first.status_code == 202, first.text
    items = [
        report(good),
        changed(report(bad_phone), "borrower.phone", "12345"),
        report(also_good),
        changed(changed(report(bad_money), "amount_overdue.amount", 10.5), "extra", 1),
        report(known),
    ]

    response = await intake.post("/v1/overdue-loans/batch", json={"items": items}, headers=lender)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 2)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "duplicate",
    ]
    assert [r["loan_id"] for r in results] == [good, bad_phone, also_good, bad_money, known]
    assert {e["field"] for e in results[1]["errors"]} == {"borrower.phone"}
    assert {e["field"] for e in results[3]["errors"]} == {"amount_overdue.amount", "extra"}
    assert results[1]["event_id"] is None
    assert results[3]["event_id"] is None
    assert results[4]["event_id"] == first.json()["event_id"]

    for loan_id in (good, also_good):
        assert await tables.rows_about(lender_id, loan_id) == {
            "loans": 1,
            "loan_events": 1,
            "outbox": 1,
        }
    for loan_id in (bad_phone, bad_money):
        assert await tables.rows_about(lender_id, loan_id) == {
            "loans": 0,
            "loan_events": 0,
            "outbox": 0,
        }
    assert (await tables.rows_about(lender_id, known))["outbox"] == 1

    accepted = {results[0]["event_id"], results[2]["event_id"]}
    published = await read_topic(bootstrap, delinquency_topic, {UUID(e) for e in accepted})
    for index in (0, 2):
        (copy,) = published[UUID(results[index]["event_id"])]
        assert copy.key == message_key(lender_id, results[index]["loan_id"])
        assert copy.envelope.type == "collections.loan.overdue-reported"
        assert copy.envelope.tenantid == lender_id


async def test_an_item_that_is_not_an_object_is_refused_alone(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    loan_id = new_loan_id()
    items = [None, "report", [1], report(loan_id)]
    response = await intake.post("/v1/overdue-loans/batch", json={"items": items}, headers=lender)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "accepted"]
    assert all(r["errors"][0]["field"] == "body" for r in results[:3])
    assert results[3]["loan_id"] == loan_id


async def test_two_reports_of_one_loan_in_a_batch_keep_the_newest(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_id = new_loan_id()
    newer = later_report(loan_id, days_later=2, amount="900.00")
    older = report(loan_id)

    response = await intake.post(
        "/v1/overdue-loans/batch", json={"items": [newer, older]}, headers=lender
    )

    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]
    loan = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    assert loan["days_past_due"] == 29
    assert loan["amount_overdue"] == {"amount": "900.00", "currency": "CNY"}
    # Within a batch, reports of one loan are taken in as_of order, whatever order they came in.
    outcomes = {h["details"]["as_of"]: h["details"]["outcome"] for h in loan["history"]}
    assert outcomes == {older["as_of"]: "opened", newer["as_of"]: "updated"}
    assert await tables.rows_about(lender_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }


async def test_a_report_of_a_closed_loan_is_refused_in_a_batch(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    closed, fresh = new_loan_id(), new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(closed), headers=lender)).is_success
    closing = await intake.post(
        f"/v1/loans/{closed}/close", json={"reason": "written_off"}, headers=lender
    )
    assert closing.status_code == 202, closing.text

    response = await intake.post(
        "/v1/overdue-loans/batch",
        json={"items": [later_report(closed, days_later=1), report(fresh)]},
        headers=lender,
    )

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["errors"][0]["field"] == "loan_id"
    assert results[0]["errors"][0]["code"] == "conflict"


async def test_a_batch_over_its_byte_limit_is_413(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    """Batches may be larger than single reports (4 MiB), but not without bound."""
    padding = "p" * 64
    items = [report(new_loan_id(), product=padding) for _ in range(1000)]
    items[0]["borrower"] = {**items[0]["borrower"], "name": "n" * (4 * 1024 * 1024)}
    response = await intake.post("/v1/overdue-loans/batch", json={"items": items}, headers=lender)
    assert response.status_code == 413, response.text


async def test_a_thousand_reports_fit_in_one_batch(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    loan_ids = [new_loan_id() for _ in range(1000)]
    response = await intake.post(
        "/v1/overdue-loans/batch",
        json={"items": [report(loan_id) for loan_id in loan_ids]},
        headers=lender,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1000
    assert (await tables.rows_about(lender_id, loan_ids[-1]))["outbox"] == 1


async def test_overlapping_batches_in_opposite_orders_do_not_deadlock(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    loan_ids = [new_loan_id() for _ in range(500)]
    forward = [report(loan_id) for loan_id in loan_ids]
    backward = [later_report(loan_id, days_later=1) for loan_id in reversed(loan_ids)]

    responses = await asyncio.gather(
        *(
            intake.post("/v1/overdue-loans/batch", json={"items": items}, headers=lender)
            for items in (forward, backward, list(reversed(forward)), list(reversed(backward)))
        )
    )

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    statuses = [[item["status"] for item in r.json()["results"]] for r in responses]
    assert all(status in {"accepted", "duplicate"} for batch in statuses for status in batch)
    assert sum(batch.count("accepted") for batch in statuses) == 2 * len(loan_ids)
