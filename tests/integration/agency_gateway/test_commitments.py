"""Promises kept by the lender's payments, agencies' payments reconciled, disputes putting the
loan on hold, and legal escalation refused naming each unmet prerequisite."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from shared.events.topics import Topic
from tests.harness import eventually
from tests.integration.agency_gateway.stack import GatewayStack


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


async def placed(stack: GatewayStack, **report: Any) -> tuple[str, dict[str, Any], str]:
    """A placed loan: its id, its assignment, and the assignment's path."""
    loan_id = await stack.report(**report)
    assignment = await stack.placed(loan_id)
    return loan_id, assignment, f"/v1/assignments/{assignment['assignment_id']}"


async def lender_pays(stack: GatewayStack, loan_id: str, payment_id: str, amount: str) -> None:
    body = {
        "payment_id": payment_id,
        "amount": cny(amount),
        "paid_at": datetime.now(UTC).isoformat(),
    }
    await stack.lender("POST", f"/v1/loans/{loan_id}/payments", **body)


async def test_promises_are_kept_by_the_lenders_payments_or_broken(stack: GatewayStack) -> None:
    loan_id, assignment, path = await placed(stack)
    agency = stack.agency(assignment["agency_id"])
    later = (date.today() + timedelta(days=7)).isoformat()
    promise = {"promise_id": "PR-1", "amount": cny("300.00"), "due_date": later}
    made = await stack.gateway.post(f"{path}/promises", json=promise, headers=agency)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "pending"
    again = await stack.gateway.post(f"{path}/promises", json=promise, headers=agency)
    assert again.status_code == 200
    past = {"promise_id": "PR-0", "amount": cny("100.00"), "due_date": "2026-12-01"}
    broken = await stack.gateway.post(f"{path}/promises", json=past, headers=agency)
    assert broken.json()["status"] == "broken"
    await lender_pays(stack, loan_id, "P-L1", "300.00")

    async def kept() -> dict[str, str] | None:
        answer = await stack.gateway.get(f"{path}/commitments", headers=agency)
        found = {p["promise_id"]: p["status"] for p in answer.json()["promises"]}
        return found if found["PR-1"] == "kept" else None

    assert await eventually(kept) == {"PR-1": "kept", "PR-0": "broken"}
    events = await stack.events(Topic.AGENCY_ACTIVITIES, loan_id, lambda found: len(found) >= 2)
    assert [e.type for e in events] == ["collections.agency.promise-recorded"] * 2
    zero = await stack.gateway.post(
        f"{path}/promises",
        json=promise | {"promise_id": "PR-2", "amount": cny("0.00")},
        headers=agency,
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "body.amount.amount"


async def test_an_agencys_payment_is_reconciled_with_the_lenders(stack: GatewayStack) -> None:
    loan_id, assignment, path = await placed(stack)
    agency = stack.agency(assignment["agency_id"])
    report = {
        "payment_id": "AP-1",
        "amount": cny("500.00"),
        "paid_at": datetime.now(UTC).isoformat(),
    }
    reported = await stack.gateway.post(f"{path}/payments", json=report, headers=agency)
    assert reported.status_code == 201, reported.text
    assert reported.json()["reconciled_with"] is None
    await lender_pays(stack, loan_id, "P-L9", "499.00")  # not the same payment
    await lender_pays(stack, loan_id, "P-L7", "500.00")

    async def reconciled() -> str | None:
        answer = await stack.gateway.get(f"{path}/commitments", headers=agency)
        found: str | None = answer.json()["payments"][0]["reconciled_with"]
        return found

    assert await eventually(reconciled) == "P-L7"
    events = await stack.events(Topic.AGENCY_ACTIVITIES, loan_id, lambda found: len(found) >= 1)
    assert events[0].type == "collections.agency.payment-reported"
    assert events[0].data["amount"] == cny("500.00")


async def test_a_dispute_puts_the_loan_on_hold_for_contacts_and_escalation(
    stack: GatewayStack,
) -> None:
    loan_id, assignment, path = await placed(stack)
    agency = stack.agency(assignment["agency_id"])
    dispute = {"dispute_id": "D-1", "reason": "the borrower says the amount is wrong"}
    raised = await stack.gateway.post(f"{path}/disputes", json=dispute, headers=agency)
    assert raised.status_code == 201, raised.text
    assert (
        await stack.gateway.post(f"{path}/disputes", json=dispute, headers=agency)
    ).status_code == 200
    events = await stack.events(Topic.AGENCY_ACTIVITIES, loan_id, lambda found: len(found) >= 1)
    assert [e.type for e in events] == ["collections.agency.dispute-raised"]
    assert events[0].data["reason"] == dispute["reason"]
    check = await stack.gateway.post(
        f"{path}/contact-check", json={"channel": "sms"}, headers=agency
    )
    assert check.json()["allowed"] is False
    decision = await stack.gateway.post(f"{path}/escalations", json={}, headers=agency)
    assert "no_open_dispute" in [u["prerequisite"] for u in decision.json()["unmet"]]


async def escalation(stack: GatewayStack, path: str, agency: dict[str, str]) -> dict[str, Any]:
    answer = await stack.gateway.post(f"{path}/escalations", json={}, headers=agency)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def unmet(decision: dict[str, Any]) -> list[str]:
    return [u["prerequisite"] for u in decision["unmet"]]


async def validation_over(stack: GatewayStack, assignment: dict[str, Any]) -> None:
    """The borrower was told long enough ago (the notice's time, moved back)."""
    await stack.sql(
        "UPDATE assignments SET notice_sent_at = now() - interval '31 days' "
        "WHERE assignment_id = :id",
        id=assignment["assignment_id"],
    )


async def test_escalation_is_granted_only_when_every_prerequisite_holds(
    stack: GatewayStack,
) -> None:
    loan_id, assignment, path = await placed(stack)
    agency = stack.agency(assignment["agency_id"])
    first = await escalation(stack, path, agency)
    assert first["granted"] is False
    assert unmet(first) == ["validation_period_over", "lender_approval"]
    assert "not been told" in first["unmet"][0]["explanation"]
    await validation_over(stack, assignment)
    assert unmet(await escalation(stack, path, agency)) == ["lender_approval"]

    approved = await stack.gateway.post(
        f"/v1/loans/{loan_id}/escalations",
        json={"approve": True},
        headers=stack.platform.as_lender(),
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["granted"], approved.json()["requested_by"]) == (True, "lender")
    assert (await escalation(stack, path, agency))["granted"] is True
    events = await stack.events(Topic.ASSIGNMENTS, loan_id, lambda found: len(found) >= 5)
    decided = [e for e in events if e.type == "collections.assignment.escalation-decided"]
    assert [e.data["granted"] for e in decided] == [False, False, True, True]
    assert decided[0].data["unmet"][1]["prerequisite"] == "lender_approval"
    assert decided[-1].data["policy_version"] == "2026-12-01.1"

    for report, expected in (
        ({"amount_overdue": cny("300.00")}, "amount_over_minimum"),
        ({"days": 1100}, "not_time_barred"),
    ):
        other_loan, other, other_path = await placed(stack, **report)
        await validation_over(stack, other)
        await stack.gateway.post(
            f"/v1/loans/{other_loan}/escalations",
            json={"approve": True},
            headers=stack.platform.as_lender(),
        )
        decision = await escalation(stack, other_path, stack.agency(other["agency_id"]))
        assert unmet(decision) == [expected], decision


async def test_the_lender_cannot_escalate_a_loan_no_agency_holds(stack: GatewayStack) -> None:
    loan_id = await stack.report(days=10)
    await stack.settled(loan_id, "awaiting_threshold")
    answer = await stack.gateway.post(
        f"/v1/loans/{loan_id}/escalations", json={}, headers=stack.platform.as_lender()
    )
    assert answer.status_code == 409
    unknown = await stack.gateway.post(
        f"/v1/loans/L-{uuid4().hex[:8]}/escalations", json={}, headers=stack.platform.as_lender()
    )
    assert unknown.status_code == 404
