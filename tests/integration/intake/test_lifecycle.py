"""What happens to a loan after its report: payments, holds, recall, closure, and the
borrower's contact preferences. Every change is in the loan's view and history, and its event
is on the loan-events topic, keyed by the loan id (preferences: by the borrower's pseudonym)."""

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest

from shared.events.envelope import message_key
from tests.harness import RunningPlatform
from tests.integration.intake.support import (
    IntakeTables,
    Published,
    assert_problem,
    intake_sealing,
    read_one,
)
from tests.support.factories import (
    later_report,
    new_loan_id,
    payment,
    report,
)

CNY = "CNY"


@pytest.fixture
async def loan(intake: httpx.AsyncClient, lender: dict[str, str]) -> str:
    """A freshly reported loan: 1,250.00 CNY overdue as of 2026-11-28T09:00+08:00."""
    loan_id = new_loan_id()
    response = await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)
    assert response.status_code == 202, response.text
    return loan_id


Find = Callable[[str], Awaitable[Published]]


@pytest.fixture
def published(bootstrap: str, loan_events_topic: str) -> Find:
    """The one copy of an event on the loan-events topic (a fresh consumer reads it from the
    beginning)."""

    async def find(event_id: str) -> Published:
        return await read_one(bootstrap, loan_events_topic, event_id)

    return find


async def view(intake: httpx.AsyncClient, lender: dict[str, str], loan_id: str) -> dict[str, Any]:
    response = await intake.get(f"/v1/loans/{loan_id}", headers=lender)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def payment_id() -> str:
    return f"P-{uuid4().hex[:12]}"


async def test_a_partial_payment_lowers_what_is_outstanding(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, loan: str, published: Find
) -> None:
    response = await intake.post(
        f"/v1/loans/{loan}/payments", json=payment(payment_id(), "250.00"), headers=lender
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["loan_status"]) == ("accepted", "delinquent")
    assert body["outstanding"] == {"amount": "1000.00", "currency": CNY}
    loan_view = await view(intake, lender, loan)
    assert loan_view["outstanding"] == {"amount": "1000.00", "currency": CNY}
    assert loan_view["amount_overdue"] == {"amount": "1250.00", "currency": CNY}
    assert loan_view["history"][-1]["type"] == "collections.loan.payment-received"

    event = await published(body["event_id"])
    assert event.key == message_key(lender_id, loan)
    assert event.envelope.type == "collections.loan.payment-received"
    assert event.envelope.data["outstanding"] == {"amount": "1000.00", "currency": CNY}
    assert event.envelope.data["cured"] is False


async def test_paying_everything_cures_the_loan(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, loan: str, published: Find
) -> None:
    url = f"/v1/loans/{loan}/payments"
    await intake.post(url, json=payment(payment_id(), "1000.00"), headers=lender)
    response = await intake.post(url, json=payment(payment_id(), "250.00"), headers=lender)

    assert response.status_code == 202, response.text
    assert response.json()["loan_status"] == "cured"
    assert response.json()["outstanding"] == {"amount": "0.00", "currency": CNY}
    assert (await view(intake, lender, loan))["status"] == "cured"
    event = await published(response.json()["event_id"])
    assert (event.key, event.envelope.data["cured"]) == (message_key(lender_id, loan), True)


async def test_a_payment_older_than_the_report_is_already_counted(
    intake: httpx.AsyncClient, lender: dict[str, str], loan: str
) -> None:
    early = payment(payment_id(), "250.00", paid_at="2026-11-27T10:00:00+08:00")
    response = await intake.post(f"/v1/loans/{loan}/payments", json=early, headers=lender)
    assert response.status_code == 202, response.text
    assert response.json()["outstanding"] == {"amount": "1250.00", "currency": CNY}
    assert len((await view(intake, lender, loan))["history"]) == 2


async def test_a_payment_in_another_currency_is_a_conflict(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan: str,
) -> None:
    response = await intake.post(
        f"/v1/loans/{loan}/payments", json=payment(payment_id(), "10.00", "USD"), headers=lender
    )
    assert_problem(response, 409)
    assert await tables.rows_about(lender_id, loan) == {"loans": 1, "loan_events": 1, "outbox": 1}


async def test_a_payment_on_an_unknown_loan_is_404(
    intake: httpx.AsyncClient, lender: dict[str, str]
) -> None:
    response = await intake.post(
        f"/v1/loans/{new_loan_id()}/payments", json=payment(payment_id(), "1.00"), headers=lender
    )
    assert_problem(response, 404)


async def test_holds_are_placed_listed_and_lifted(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, loan: str, published: Find
) -> None:
    holds = f"/v1/loans/{loan}/holds"
    placed = await intake.post(holds, json={"reason": "dispute", "hold_id": "H-1"}, headers=lender)
    other = await intake.post(holds, json={"reason": "hardship"}, headers=lender)
    again = await intake.post(holds, json={"reason": "dispute", "hold_id": "H-1"}, headers=lender)

    assert (placed.status_code, other.status_code, again.status_code) == (201, 201, 200)
    assert placed.json()["hold_id"] == "H-1"
    assert other.json()["hold_id"].startswith("H-")
    assert again.json() == {**placed.json(), "status": "duplicate"}
    loan_view = await view(intake, lender, loan)
    assert loan_view["on_hold"] is True
    assert {(h["hold_id"], h["reason"], h["lifted_at"]) for h in loan_view["holds"]} == {
        ("H-1", "dispute", None),
        (other.json()["hold_id"], "hardship", None),
    }
    event = await published(placed.json()["event_id"])
    assert (event.key, event.envelope.type) == (
        message_key(lender_id, loan),
        "collections.loan.hold-placed",
    )
    assert event.envelope.data["reason"] == "dispute"

    lifted = await intake.delete(f"{holds}/H-1", headers=lender)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "accepted"
    assert (await view(intake, lender, loan))["on_hold"] is True  # the other hold remains
    twice = await intake.delete(f"{holds}/H-1", headers=lender)
    assert twice.json() == {**lifted.json(), "status": "duplicate"}
    await intake.delete(f"{holds}/{other.json()['hold_id']}", headers=lender)
    loan_view = await view(intake, lender, loan)
    assert loan_view["on_hold"] is False
    assert all(h["lifted_at"] is not None for h in loan_view["holds"])
    event = await published(lifted.json()["event_id"])
    assert (event.key, event.envelope.type) == (
        message_key(lender_id, loan),
        "collections.loan.hold-lifted",
    )
    assert event.envelope.data["hold_id"] == "H-1"


async def test_lifting_an_unknown_hold_is_404(
    intake: httpx.AsyncClient, lender: dict[str, str], loan: str
) -> None:
    assert_problem(await intake.delete(f"/v1/loans/{loan}/holds/H-none", headers=lender), 404)
    assert_problem(
        await intake.delete(f"/v1/loans/{new_loan_id()}/holds/H-none", headers=lender), 404
    )


async def test_a_hold_id_in_use_on_another_loan_is_a_conflict(
    intake: httpx.AsyncClient, lender: dict[str, str], loan: str
) -> None:
    hold = {"reason": "complaint", "hold_id": f"H-{uuid4().hex[:8]}"}
    assert (await intake.post(f"/v1/loans/{loan}/holds", json=hold, headers=lender)).is_success
    other = new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(other), headers=lender)).is_success
    response = await intake.post(f"/v1/loans/{other}/holds", json=hold, headers=lender)
    assert_problem(response, 409)
    assert (await view(intake, lender, other))["on_hold"] is False


async def test_every_recall_is_an_event(
    intake: httpx.AsyncClient, lender: dict[str, str], lender_id: str, loan: str, published: Find
) -> None:
    first = await intake.post(f"/v1/loans/{loan}/recall", json={}, headers=lender)
    second = await intake.post(
        f"/v1/loans/{loan}/recall",
        json={"reason": "agency underperforming", "recalled_at": "2026-11-28T12:00:00Z"},
        headers=lender,
    )

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["event_id"] != second.json()["event_id"]
    event = await published(second.json()["event_id"])
    assert (event.key, event.envelope.type) == (
        message_key(lender_id, loan),
        "collections.loan.placement-recalled",
    )
    assert event.envelope.data["reason"] == "agency underperforming"
    assert event.envelope.data["recalled_at"] == "2026-11-28T12:00:00Z"
    assert (await published(first.json()["event_id"])).envelope.data["reason"] == "lender_request"


async def test_a_closed_loan_takes_no_more_changes(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    tables: IntakeTables,
    loan: str,
    published: Find,
) -> None:
    closed = await intake.post(
        f"/v1/loans/{loan}/close", json={"reason": "settled"}, headers=lender
    )
    again = await intake.post(f"/v1/loans/{loan}/close", json={"reason": "settled"}, headers=lender)

    assert (closed.status_code, again.status_code) == (202, 200)
    assert again.json() == {**closed.json(), "status": "duplicate"}
    loan_view = await view(intake, lender, loan)
    assert (loan_view["status"], loan_view["closure_reason"]) == ("closed", "settled")
    event = await published(closed.json()["event_id"])
    assert (event.key, event.envelope.type) == (
        message_key(lender_id, loan),
        "collections.loan.closed",
    )
    assert event.envelope.data["reason"] == "settled"

    written = await tables.rows_about(lender_id, loan)
    refused = [
        await intake.post("/v1/overdue-loans", json=later_report(loan, 1), headers=lender),
        await intake.post(
            f"/v1/loans/{loan}/payments", json=payment(payment_id(), "1.00"), headers=lender
        ),
        await intake.post(f"/v1/loans/{loan}/holds", json={"reason": "dispute"}, headers=lender),
        await intake.post(f"/v1/loans/{loan}/recall", json={}, headers=lender),
    ]
    for response in refused:
        assert_problem(response, 409)
    assert await tables.rows_about(lender_id, loan) == written


async def test_contact_preferences_are_versioned_and_keyed_by_pseudonym(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    published: Find,
) -> None:
    borrower_id = f"B-{uuid4().hex[:12]}"
    url = f"/v1/borrowers/{borrower_id}/contact-preferences"
    first = await intake.put(url, json={"opted_out_channels": ["sms"]}, headers=lender)
    second = await intake.put(
        url,
        json={
            "opted_out_channels": ["sms", "phone_call"],
            "inconvenient_times": [{"weekdays": [5, 6], "start": "20:00", "end": "09:00"}],
            "consents": [
                {
                    "kind": "contact_in_quiet_hours",
                    "granted": False,
                    "recorded_at": "2026-11-28T09:00:00+08:00",
                }
            ],
            "effective_at": "2026-11-28T10:00:00+08:00",
        },
        headers=lender,
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert second.json()["borrower_id"] == borrower_id
    reference = intake_sealing(platform.runtime("intake")).reference(lender_id, borrower_id)
    event = await published(second.json()["event_id"])
    assert event.key == message_key(lender_id, reference)
    assert event.envelope.subject == reference
    assert event.envelope.type == "collections.borrower.contact-preferences-updated"
    assert event.envelope.data["borrower_ref"] == reference
    assert event.envelope.data["preferences"]["opted_out_channels"] == ["sms", "phone_call"]
    assert event.envelope.data["effective_at"] == "2026-11-28T10:00:00+08:00"
    assert borrower_id not in event.envelope.model_dump_json()
