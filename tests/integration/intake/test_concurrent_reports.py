"""Concurrent single reports share transactions (group commit), yet each request gets the
answer it would have got alone: its status, its event, its Idempotency-Key replay, its error."""

import asyncio
from uuid import uuid4

import httpx
from sqlalchemy import text

from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
)
from tests.support.factories import (
    later_report,
    new_loan_id,
    report,
)


async def transactions_of(tables: IntakeTables, event_ids: list[str]) -> int:
    """How many transactions wrote these events' history rows (never updated afterwards)."""
    async with tables.engine.connect() as connection:
        found = await connection.scalar(
            text(
                "SELECT count(DISTINCT xmin::text) FROM loan_events"
                " WHERE event_id::text = ANY(:ids)"
            ),
            {"ids": event_ids},
        )
    return int(found or 0)


async def test_concurrent_reports_each_get_their_own_answer_from_shared_transactions(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, tables: IntakeTables
) -> None:
    closed = new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(closed), headers=lender)).is_success
    settled = await intake.post(
        f"/v1/loans/{closed}/close", json={"reason": "settled"}, headers=lender
    )
    assert settled.status_code == 202, settled.text
    fresh = [new_loan_id() for _ in range(20)]
    twice, keyed, reused = new_loan_id(), new_loan_id(), new_loan_id()
    key, reused_key = str(uuid4()), str(uuid4())

    def post(body: dict[str, object], key: str | None = None) -> asyncio.Task[httpx.Response]:
        headers = lender if key is None else {**lender, "Idempotency-Key": key}
        return asyncio.create_task(intake.post("/v1/overdue-loans", json=body, headers=headers))

    new = [post(report(loan_id)) for loan_id in fresh]
    same_report = [post(report(twice)), post(report(twice))]
    same_key = [post(report(keyed), key), post(report(keyed), key)]
    other_body = [post(report(reused), reused_key), post(later_report(reused, 1), reused_key)]
    to_closed = post(report(closed, as_of="2026-11-29T09:00:00+08:00", days_past_due=28))
    await asyncio.gather(*new, *same_report, *same_key, *other_body, to_closed)

    accepted = [task.result() for task in new]
    assert [r.status_code for r in accepted] == [202] * len(fresh), accepted[0].text
    assert [r.json()["loan_id"] for r in accepted] == fresh
    event_ids = [r.json()["event_id"] for r in accepted]
    assert len(set(event_ids)) == len(fresh)
    assert await transactions_of(tables, event_ids) < len(fresh), "no transaction was shared"

    first, second = (task.result() for task in same_report)
    assert sorted((first.status_code, second.status_code)) == [200, 202]
    assert first.json()["event_id"] == second.json()["event_id"]

    original, replayed = sorted(
        (task.result() for task in same_key), key=lambda r: "Idempotent-Replayed" in r.headers
    )
    assert (original.status_code, replayed.status_code) == (202, 202), original.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == original.json()

    statuses = sorted(task.result().status_code for task in other_body)
    assert statuses == [202, 409]

    assert_problem(to_closed.result(), 409)
    for loan_id in [*fresh, twice, keyed, reused]:
        assert await tables.rows_about(lender_id, loan_id) == {
            "loans": 1,
            "loan_events": 1,
            "outbox": 1,
        }
    assert (await tables.rows_about(lender_id, closed))["loan_events"] == 2  # report, closure
