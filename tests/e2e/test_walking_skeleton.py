"""A report posted to intake reaches all three consumers, each in its own database."""

import copy
from typing import Any

import httpx

from tests.harness import RunningPlatform, eventually
from tests.support.factories import VALID_REPORT as VALID


def report(loan_id: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    body["loan_id"] = loan_id
    body.update(changes)
    return body


async def test_an_overdue_report_reaches_every_service(platform: RunningPlatform) -> None:
    intake = platform.clients["intake"]
    posted = await intake.post(
        "/v1/overdue-loans", json=report("L-E2E-1"), headers=platform.as_lender()
    )
    assert posted.status_code == 202, posted.text
    event_id = posted.json()["event_id"]
    assert posted.json()["loan_id"] == "L-E2E-1"

    async def found(service: str, path: str, headers: dict[str, str]) -> httpx.Response | None:
        response = await platform.clients[service].get(path, headers=headers)
        return response if response.status_code == 200 else None

    notifications = await eventually(
        lambda: found("notifier", "/v1/loans/L-E2E-1/notifications", platform.as_lender())
    )
    # Due on 1 November: every step of cn-default (days 1 to 10) is long past and the policy
    # stops after day 30, so the notifier knows the loan and plans nothing.
    assert notifications.json() == {"loan_id": "L-E2E-1", "notifications": []}

    placement = await eventually(
        lambda: found("agency_gateway", "/v1/loans/L-E2E-1/placement", platform.as_lender())
    )
    assert placement.json()["status"] == "awaiting_threshold"
    assert placement.json()["amount_overdue"] == {"amount": "1250.00", "currency": "CNY"}

    timeline = await eventually(
        lambda: found(
            "compliance",
            f"/v1/loans/L-E2E-1/timeline?lender_id={platform.credentials.lender['id']}",
            platform.as_auditor(),
        )
    )
    (entry,) = timeline.json()["entries"]
    assert entry["event_id"] == event_id
    assert entry["type"] == "collections.loan.overdue-reported"
    borrower = entry["entry"]["data"]["borrower"]
    assert borrower["ref"].startswith("bref_")
    assert "contact" not in borrower
    assert "张三" not in timeline.text
    assert "13800138000" not in timeline.text


async def test_a_repeated_report_is_one_event(platform: RunningPlatform) -> None:
    intake = platform.clients["intake"]
    first = await intake.post(
        "/v1/overdue-loans", json=report("L-E2E-2"), headers=platform.as_lender()
    )
    again = await intake.post(
        "/v1/overdue-loans", json=report("L-E2E-2"), headers=platform.as_lender()
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {**first.json(), "status": "duplicate"}


async def test_endpoints_require_a_key_with_the_right_role(platform: RunningPlatform) -> None:
    intake = platform.clients["intake"]
    anonymous = await intake.post("/v1/overdue-loans", json=report("L-E2E-3"))
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    wrong = await intake.post(
        "/v1/overdue-loans", json=report("L-E2E-3"), headers={"Authorization": "Bearer dc_x_y"}
    )
    assert wrong.status_code == 401
    lender_at_compliance = await platform.clients["compliance"].get(
        "/v1/loans/L-E2E-1/timeline", headers=platform.as_lender()
    )
    assert lender_at_compliance.status_code == 403  # one registry: a known key, a wrong role
    auditor_key = platform.as_auditor()
    auditor_at_intake = await intake.post(
        "/v1/overdue-loans", json=report("L-E2E-3"), headers=auditor_key
    )
    assert auditor_at_intake.status_code == 403


async def test_bad_input_names_the_field(platform: RunningPlatform) -> None:
    body = report("L-E2E-4")
    body["borrower"]["phone"] = "12345"
    response = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=body, headers=platform.as_lender()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["borrower.phone"]


async def test_health_endpoints_answer(platform: RunningPlatform) -> None:
    for client in platform.clients.values():
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
