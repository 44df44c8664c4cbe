"""Placement on real Kafka and PostgreSQL: the threshold and every exclusion, shares over many
loans, each recall trigger, and the acknowledgement lease placing a loan elsewhere."""

from collections import Counter
from functools import partial
from typing import Any
from uuid import uuid4

from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.events.envelope import Envelope
from shared.events.topics import Topic
from tests.harness import eventually
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack, aged
from tests.support.factories import VALID_REPORT, payment

PAID_AT = "2026-12-02T10:00:00+08:00"  # after every report's as_of


def types_of(events: list[Envelope]) -> list[str]:
    return [event.type for event in events]


async def test_a_loan_past_the_threshold_is_placed_with_the_policy_and_reason(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    current = await stack.placed(loan_id)
    assert current["agency_id"] in (NORTH, SOUTH)
    assert current["status"] == "placed"
    assert current["arm"] in ("champion", "challenger")
    assert current["policy_version"] == "2026-12-01.1"
    assert "50 days past due" in current["reason"]
    events = await stack.events(Topic.ASSIGNMENTS, loan_id, lambda found: len(found) >= 1)
    placed = events[0]
    assert placed.type == "collections.assignment.placed"
    assert placed.tenantid == stack.lender_id
    assert placed.data["assignment_id"] == current["assignment_id"]
    assert placed.data["agency_name"] == current["agency_id"].title()
    assert placed.data["policy_version"] == "2026-12-01.1"


async def test_below_the_threshold_or_the_minimum_amount_a_loan_waits(stack: GatewayStack) -> None:
    young = await stack.report(days=10)
    waiting = await stack.settled(young, "awaiting_threshold")
    assert (waiting["note"], waiting["current"], waiting["placements"]) == (
        "below_threshold",
        None,
        [],
    )
    small = await stack.report(amount_overdue={"amount": "50.00", "currency": "CNY"})
    assert (await stack.settled(small, "awaiting_threshold"))["note"] == "below_minimum_amount"


async def excluded_after(stack: GatewayStack, setup: Any) -> dict[str, Any]:
    """A loan reported young, then ``setup`` (a hold, a cease ...), then past the threshold."""
    loan_id = await stack.report(days=10, as_of="2026-11-11T09:00:00+08:00")
    await stack.settled(loan_id, "awaiting_threshold")
    await setup(loan_id)
    await stack.report(loan_id, days=30)
    return await stack.settled(loan_id, "excluded")


async def test_holds_disputes_illegal_debt_and_lender_recall_exclude_a_loan(
    stack: GatewayStack,
) -> None:
    for reason, expected in (
        ("hardship", "hold:hardship"),
        ("dispute", "dispute"),
        ("suspected_illegal_debt", "illegal_debt"),
    ):

        async def hold(loan_id: str, reason: str = reason) -> None:
            await stack.lender("POST", f"/v1/loans/{loan_id}/holds", reason=reason)

        assert (await excluded_after(stack, hold))["note"] == expected

    async def recall(loan_id: str) -> None:
        await stack.lender("POST", f"/v1/loans/{loan_id}/recall", reason="in house")

    assert (await excluded_after(stack, recall))["note"] == "lender_recall"


async def test_a_cease_request_and_an_attorney_exclude_a_loan(stack: GatewayStack) -> None:
    for wish, expected in (("cease_communication", "cease"), ("attorney_represented", "attorney")):
        borrower = f"B-{uuid4().hex[:10]}"
        await stack.lender("PUT", f"/v1/borrowers/{borrower}/contact-preferences", **{wish: True})
        body = aged(f"L-{uuid4().hex[:12]}")
        body["borrower"]["id"] = borrower
        await stack.lender("POST", "/v1/overdue-loans", **body)
        assert (await stack.settled(body["loan_id"], "excluded"))["note"] == expected


async def test_a_cured_or_closed_loan_is_never_placed(stack: GatewayStack) -> None:
    async def pay(loan_id: str) -> None:
        await stack.lender(
            "POST", f"/v1/loans/{loan_id}/payments", **payment("P-1", "1250.00", paid_at=PAID_AT)
        )

    async def close(loan_id: str) -> None:
        await stack.lender("POST", f"/v1/loans/{loan_id}/close", reason="settled")

    for setup, expected in ((pay, "cured"), (close, "closed:settled")):
        loan_id = await stack.report(days=10)
        await stack.settled(loan_id, "awaiting_threshold")
        await setup(loan_id)
        assert (await stack.settled(loan_id, "ended"))["note"] == expected


async def test_shares_hold_over_many_loans_and_the_split_is_recorded(stack: GatewayStack) -> None:
    loans = [f"L-share-{uuid4().hex[:10]}" for _ in range(240)]
    for start in range(0, len(loans), 60):
        items = [aged(loan_id) for loan_id in loans[start : start + 60]]
        await stack.lender("POST", "/v1/overdue-loans/batch", items=items)
    agencies: Counter[str] = Counter()
    arms: Counter[str] = Counter()
    for loan_id in loans:
        current = await stack.placed(loan_id)
        agencies[current["agency_id"]] += 1
        arms[current["arm"]] += 1
    assert 0.65 < agencies[NORTH] / len(loans) < 0.85, agencies  # shares 3:1
    assert 0.10 < arms["challenger"] / len(loans) < 0.30, arms  # 20 % of loans, by hash


async def test_a_regional_agency_gets_loans_of_its_regions_only(stack: GatewayStack) -> None:
    borrower = VALID_REPORT["borrower"]
    await stack.register(NORTH, share=3, regions=["CN-BJ", "CN-SH"])
    try:
        canton = [f"L-gd-{uuid4().hex[:10]}" for _ in range(20)]
        items = [aged(loan_id, borrower=borrower | {"region": "CN-GD"}) for loan_id in canton]
        await stack.lender("POST", "/v1/overdue-loans/batch", items=items)
        for loan_id in canton:
            assert (await stack.placed(loan_id))["agency_id"] == SOUTH  # SOUTH: all of CN
        beijing = await stack.report(borrower=borrower | {"region": "CN-BJ"})
        assert "of 2 eligible" in (await stack.placed(beijing))["reason"]
        unstated = await stack.report()
        assert "of 2 eligible" in (await stack.placed(unstated))["reason"]
    finally:
        await stack.register(NORTH, share=3)


async def test_a_region_outside_the_jurisdiction_is_refused_by_name(stack: GatewayStack) -> None:
    body = aged("L-region", borrower=VALID_REPORT["borrower"] | {"region": "US-CA"})
    answer = await stack.intake.post(
        "/v1/overdue-loans",
        json=body,
        headers={**stack.platform.as_lender(), "Idempotency-Key": "r1"},
    )
    assert answer.status_code == 422
    assert "borrower.region" in answer.text
    refused = await stack.gateway.put(
        f"/v1/agencies/{NORTH}",
        json={
            "name": "N",
            "jurisdictions": ["CN"],
            "regions": ["US-CA"],
            "capacity": 1,
            "share": 1,
        },
        headers=stack.operator,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "regions"


async def ended(stack: GatewayStack, loan_id: str, status: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        found = await stack.placement(loan_id)
        if found and found["placements"] and found["placements"][-1]["status"] == status:
            first: dict[str, Any] = found["placements"][-1]
            return first
        return None

    return await eventually(done, within=30)


async def test_each_recall_trigger_ends_the_placement_with_its_event(stack: GatewayStack) -> None:
    triggers = (
        ("POST", "payments", payment("P-9", "1250.00", paid_at=PAID_AT), "paid_in_full"),
        ("POST", "holds", {"reason": "hardship"}, "hold:hardship"),
        ("POST", "holds", {"reason": "dispute"}, "dispute"),
        ("POST", "recall", {"reason": "lender_request"}, "lender_recall"),
        ("POST", "close", {"reason": "written_off"}, "closed:written_off"),
    )
    for method, action, body, reason in triggers:
        loan_id = await stack.report()
        first = await stack.placed(loan_id)
        await stack.lender(method, f"/v1/loans/{loan_id}/{action}", **body)
        recalled = await ended(stack, loan_id, "recalled")
        assert (recalled["assignment_id"], recalled["end_reason"]) == (
            first["assignment_id"],
            reason,
        )
        assert recalled["end_policy_version"] == "2026-12-01.1"
        events = await stack.events(Topic.ASSIGNMENTS, loan_id, lambda found: len(found) >= 2)
        assert types_of(events) == [
            "collections.assignment.placed",
            "collections.assignment.recalled",
        ]
        assert events[1].data["reason"] == reason
        final = await eventually(partial(decided_not_placed, stack, loan_id))
        assert final["current"] is None


async def decided_not_placed(stack: GatewayStack, loan_id: str) -> dict[str, Any] | None:
    """The loan's placement once the worker decided it is not placed (the recall itself,
    in the consumer, leaves the case's status to the worker's next decision)."""
    found = await stack.placement(loan_id)
    return found if found and found["status"] in ("excluded", "ended") else None


async def test_an_unacknowledged_placement_lapses_and_goes_elsewhere(stack: GatewayStack) -> None:
    expired = {"how": "expired", "reason": "ack_lease_lapsed"}
    expired_before = REGISTRY.get_sample_value("collections_placement_ends_total", expired) or 0
    loan_id = await stack.report()
    first = await stack.placed(loan_id)
    await stack.sql(
        "UPDATE assignments SET ack_due_at = now() - interval '1 second' WHERE assignment_id = :id",
        id=first["assignment_id"],
    )
    lapsed = await ended(stack, loan_id, "expired")
    assert lapsed["end_reason"] == "ack_lease_lapsed"

    async def counted() -> bool:  # the expired lease is counted (collections_placement_ends_total)
        found = REGISTRY.get_sample_value("collections_placement_ends_total", expired) or 0
        return found > expired_before

    await eventually(counted)
    second = await stack.placed(loan_id)
    assert second["assignment_id"] != first["assignment_id"]
    assert second["agency_id"] != first["agency_id"]
    gone = await stack.gateway.get(
        f"/v1/assignments/{first['assignment_id']}", headers=stack.agency(first["agency_id"])
    )
    assert gone.status_code == 410, gone.text
    events = await stack.events(Topic.ASSIGNMENTS, loan_id, lambda found: len(found) >= 3)
    assert types_of(events) == [
        "collections.assignment.placed",
        "collections.assignment.expired",
        "collections.assignment.placed",
    ]


async def test_an_acknowledged_placement_expires_at_the_end_of_its_term(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    first = await stack.placed(loan_id)
    agency = stack.agency(first["agency_id"])
    acked = await stack.gateway.post(
        f"/v1/assignments/{first['assignment_id']}/ack", headers=agency
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    await stack.sql(
        "UPDATE assignments SET ack_due_at = now() - interval '1 day', "
        "expires_at = now() - interval '1 second' WHERE assignment_id = :id",
        id=first["assignment_id"],
    )
    assert (await ended(stack, loan_id, "expired"))["end_reason"] == "term_ended"


async def open_accounts(stack: GatewayStack) -> tuple[dict[str, int], dict[str, int]]:
    """Each agency's counter and its open assignments counted, read in one snapshot."""
    runtime = stack.platform.runtime("agency_gateway")
    async with runtime.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT 'counter', agency_id, open_accounts FROM agency_open_accounts "
                "UNION ALL SELECT 'counted', agency_id, count(*) FROM assignments "
                "WHERE ended_at IS NULL GROUP BY agency_id"
            )
        )
    found: dict[str, dict[str, int]] = {"counter": {}, "counted": {}}
    for kind, agency_id, count in rows:
        found[kind][agency_id] = int(count)
    counter = {agency: n for agency, n in found["counter"].items() if n}
    return counter, found["counted"]


async def test_each_agencys_open_accounts_counter_follows_placements_and_their_ends(
    stack: GatewayStack,
) -> None:
    before, _ = await open_accounts(stack)
    loans = [await stack.report() for _ in range(4)]
    firsts = [await stack.placed(loan_id) for loan_id in loans]
    placed = Counter(first["agency_id"] for first in firsts)
    counter, counted = await open_accounts(stack)
    assert counter == counted
    assert all(counter[a] >= before.get(a, 0) + n for a, n in placed.items())
    # recalled (a payment in full), lapsed (re-placed elsewhere), returned by the agency
    await stack.lender(
        "POST", f"/v1/loans/{loans[0]}/payments", **payment("P-c", "1250.00", paid_at=PAID_AT)
    )
    await ended(stack, loans[0], "recalled")
    await stack.sql(
        "UPDATE assignments SET ack_due_at = now() - interval '1 second' WHERE assignment_id = :id",
        id=firsts[1]["assignment_id"],
    )
    await ended(stack, loans[1], "expired")
    second = await stack.placed(loans[1])
    assert second["assignment_id"] != firsts[1]["assignment_id"]
    returned = await stack.gateway.post(
        f"/v1/assignments/{firsts[2]['assignment_id']}/return",
        json={"reason": "unreachable"},
        headers=stack.agency(firsts[2]["agency_id"]),
    )
    assert returned.status_code == 200, returned.text
    counter, counted = await open_accounts(stack)
    assert counter == counted
