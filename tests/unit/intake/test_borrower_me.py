"""``/v1/me`` on a fake desk: the JSON shapes the issue names, the bearer token, problem+json
for bad input naming the field, and another borrower's request a 404."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.intake.application.borrower_desk import Holder
from shared.http.problems import PROBLEM_JSON
from shared.vocabulary import Channel
from tests.support.fake_borrower_desk import FakeBorrowerDesk
from tests.unit.intake.borrower_site_support import borrower_app, client_of


@pytest.fixture
def desk() -> FakeBorrowerDesk:
    return FakeBorrowerDesk()


@pytest.fixture
async def client(desk: FakeBorrowerDesk) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(borrower_app(desk)) as client:
        yield client


@pytest.fixture
def token(desk: FakeBorrowerDesk) -> str:
    return desk.add_loan()


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if fields:
        assert {e["field"] for e in body["errors"]} == set(fields), body
    return body


async def test_me_has_the_shape_of_the_issue(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/v1/me", headers=auth)
    assert response.status_code == 200
    me = response.json()
    assert {
        "loan_id",
        "lender_id",
        "amount_overdue",
        "days_past_due",
        "held_by",
        "preferences",
        "disputes",
    } <= set(me)
    assert me["loan_id"] == "L-1"
    assert me["lender_id"] == "lender-demo"
    assert me["amount_overdue"] == {"amount": "1250.00", "currency": "CNY"}
    assert me["days_past_due"] == 66
    assert me["held_by"] is None
    assert me["preferences"]["opted_out_channels"] == []
    assert me["disputes"] == []


async def test_held_by_names_the_agency(desk: FakeBorrowerDesk, client: httpx.AsyncClient) -> None:
    token = desk.add_loan("L-2", held_by=Holder("agency-north", "North Recovery", None))
    me = (await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["held_by"]["agency_id"] == "agency-north"
    assert me["held_by"]["name"] == "North Recovery"


async def test_a_dispute_is_201_open_and_listed(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/me/disputes", json={"reason": "already_paid", "details": "paid on 1 Nov"}, headers=auth
    )
    assert response.status_code == 201
    filed = response.json()
    assert filed["status"] == "open"
    assert filed["dispute_id"]
    (dispute,) = (await client.get("/v1/me", headers=auth)).json()["disputes"]
    assert {"dispute_id", "reason", "status", "opened_at", "resolved_at"} <= set(dispute)
    assert dispute["dispute_id"] == filed["dispute_id"]
    assert dispute["reason"] == "already_paid"
    assert dispute["resolved_at"] is None
    assert desk.loan().details == ["paid on 1 Nov"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "because"}, "reason"),
        ({}, "reason"),
        ({"reason": "other", "details": "x" * 2001}, "details"),
        ({"reason": "other", "details": "\u202eevil"}, "details"),
        ({"reason": "other", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_dispute_is_422_naming_the_field(
    desk: FakeBorrowerDesk,
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    problem(await client.post("/v1/me/disputes", json=body, headers=auth), 422, field)
    assert desk.loan().disputes == []


async def test_a_closed_loan_is_a_409(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    desk.loan().status = "closed"
    problem(await client.post("/v1/me/disputes", json={"reason": "other"}, headers=auth), 409)


async def test_preferences_are_replaced_and_returned(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {
        "opted_out_channels": ["email", "field_visit", "email"],
        "inconvenient_times": [{"weekdays": [5, 6], "start": "08:00", "end": "10:00"}],
    }
    response = await client.put("/v1/me/contact-preferences", json=body, headers=auth)
    assert response.status_code == 200
    preferences = response.json()
    assert preferences["opted_out_channels"] == ["email", "field_visit"]
    assert preferences["inconvenient_times"] == [
        {"weekdays": [5, 6], "start": "08:00:00", "end": "10:00:00"}
    ]
    assert desk.loan().preferences.opted_out_channels == [Channel.EMAIL, Channel.FIELD_VISIT]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opted_out_channels": ["pigeon"]}, "opted_out_channels.0"),
        ({"inconvenient_times": [{"start": "25:00", "end": "10:00"}]},
         "inconvenient_times.0.start"),
        ({"inconvenient_times": [{"weekdays": [1, 1], "start": "08:00", "end": "10:00"}]},
         "inconvenient_times.0.weekdays"),
    ],
)  # fmt: skip
async def test_bad_preferences_are_422_naming_the_field(
    desk: FakeBorrowerDesk,
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    problem(await client.put("/v1/me/contact-preferences", json=body, headers=auth), 422, field)
    assert desk.loan().preferences.opted_out_channels == []


async def test_a_data_request_is_202_pending_then_ready_with_its_answers(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/me/data-requests", json={"kind": "access"}, headers=auth)
    assert response.status_code == 202
    asked = response.json()
    assert asked["status"] == "pending"
    assert {"request_id", "status", "due_by"} <= set(asked)
    url = f"/v1/me/data-requests/{asked['request_id']}"
    pending = (await client.get(url, headers=auth)).json()
    assert pending["status"] == "pending"
    assert pending["answers"] == []
    desk.answer(asked["request_id"])
    ready = (await client.get(url, headers=auth)).json()
    assert ready["status"] == "ready"
    services = {answer["service"]: answer for answer in ready["answers"]}
    assert services["notifier"]["personal_data"][0]["value"] == "+8613800138000"
    assert services["agency_gateway"]["shared_with"][0]["party_id"] == "agency-north"


async def test_a_deletion_answer_names_what_was_kept_and_why(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    asked = (
        await client.post("/v1/me/data-requests", json={"kind": "deletion"}, headers=auth)
    ).json()
    desk.answer(asked["request_id"])
    ready = (await client.get(f"/v1/me/data-requests/{asked['request_id']}", headers=auth)).json()
    retention = ready["answers"][0]["retention"]
    assert {"category": "phone", "erased": False, "legal_basis": "debt still owed"}.items() <= (
        retention[0].items()
    )
    assert retention[1]["erased"] is True


async def test_a_bad_kind_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    problem(
        await client.post("/v1/me/data-requests", json={"kind": "everything"}, headers=auth),
        422,
        "kind",
    )


async def test_another_borrowers_request_is_a_404(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    other = {"Authorization": f"Bearer {desk.add_loan('L-2', borrower_ref='bref_other')}"}
    theirs = (
        await client.post("/v1/me/data-requests", json={"kind": "access"}, headers=other)
    ).json()
    problem(await client.get(f"/v1/me/data-requests/{theirs['request_id']}", headers=auth), 404)
    problem(await client.get("/v1/me/data-requests/R-999", headers=auth), 404)


async def test_no_bearer_or_a_bad_one_is_401_and_a_dead_one_410(
    desk: FakeBorrowerDesk, client: httpx.AsyncClient, token: str
) -> None:
    body = problem(await client.get("/v1/me"), 401)
    assert "Bearer" in body["detail"]
    missing = await client.get("/v1/me")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    problem(await client.get("/v1/me", headers={"Authorization": f"Basic {token}"}), 401)
    problem(await client.get("/v1/me", headers={"Authorization": "Bearer b1.l1.AAAA"}), 401)
    expired = {"Authorization": f"Bearer {desk.expired_token()}"}
    problem(await client.get("/v1/me", headers=expired), 410)
    revoked = desk.token()
    desk.revoke(revoked)
    problem(await client.get("/v1/me", headers={"Authorization": f"Bearer {revoked}"}), 410)


async def test_no_bearer_is_401_before_the_body_is_judged(client: httpx.AsyncClient) -> None:
    problem(await client.post("/v1/me/disputes", json={"reason": "nope"}), 401)


async def test_the_openapi_document_is_the_json_api_with_a_bearer() -> None:
    document = borrower_app(FakeBorrowerDesk()).openapi()
    assert set(document["paths"]) == {
        "/healthz",
        "/readyz",
        "/v1/me",
        "/v1/me/disputes",
        "/v1/me/contact-preferences",
        "/v1/me/data-requests",
        "/v1/me/data-requests/{request_id}",
    }
    operation = document["paths"]["/v1/me/disputes"]["post"]
    assert operation["security"] == [{"borrower_link": []}]
    assert {"201", "401", "409", "422"} <= set(operation["responses"])
