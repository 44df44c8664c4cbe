"""Rules judged after the fact on events flowing through Kafka: intake's report, the agency
gateway's placement and activities and the notifier's sends (published as they publish them).
Each violation is a log entry, listed to auditors and published on collections.compliance.v1."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.auth import Role
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    ASSIGNMENT_PLACED,
    HOLD_PLACED,
    NOTIFICATION_EVENTS,
)
from shared.events.models import HoldPlaced, HoldReason
from shared.events.notifications import NotificationStatus
from shared.events.topics import Topic
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.compliance.events import activity, placed, publish, sent
from tests.integration.intake.support import read_topic
from tests.support.factories import new_loan_id, report

VIOLATION = "collections.compliance.violation-found"


async def test_violations_are_logged_listed_and_published(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    lender = platform.credentials.lender
    auditor = platform.as_auditor()
    loan_id = new_loan_id()
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=report(loan_id),  # CN, the borrower in Asia/Shanghai
        headers={**platform.as_lender(), "Idempotency-Key": str(uuid4())},
    )
    assert posted.status_code == 202, posted.text

    async def borrower_ref() -> str | None:
        response = await platform.clients["compliance"].get(
            f"/v1/loans/{loan_id}/timeline", params={"lender_id": lender["id"]}, headers=auditor
        )
        if response.status_code != 200:
            return None
        ref: str = response.json()["entries"][0]["entry"]["data"]["borrower"]["ref"]
        return ref

    ref = await eventually(borrower_ref, within=30)
    runtime = platform.runtime("compliance")
    lid = lender["id"]
    await publish(runtime, ASSIGNMENT_PLACED, lid, loan_id, placed(loan_id, ref, "agency-x"))
    night = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, no notice yet
    await publish(
        runtime, AGENCY_ACTIVITY_RECORDED, lid, loan_id, activity(loan_id, ref, "agency-x", night)
    )
    visit = activity(
        loan_id,
        ref,
        "agency-x",
        datetime(2026, 11, 3, 3, tzinfo=UTC),
        type="visit",
        outcome="conversation",
        staff_count=1,
    )
    await publish(runtime, AGENCY_ACTIVITY_RECORDED, lid, loan_id, visit)
    hold = HoldPlaced(
        loan_id=loan_id,
        hold_id="H-1",
        reason=HoldReason.DISPUTE,
        placed_at=datetime(2026, 11, 3, 4, tzinfo=UTC),
    )
    await publish(runtime, HOLD_PLACED, lid, loan_id, hold)
    reminder = sent(loan_id, ref, datetime(2026, 11, 3, 5, tzinfo=UTC))
    await publish(runtime, NOTIFICATION_EVENTS[NotificationStatus.SENT], lid, loan_id, reminder)

    expected = {
        ("CN-01", "agency:agency-x"),
        ("CN-09", "agency:agency-x"),
        ("CN-07", "agency:agency-x"),
        ("POL-01", "lender"),
    }

    async def listed() -> list[dict[str, Any]] | None:
        response = await platform.clients["compliance"].get(
            "/v1/violations", params={"lender_id": lid, "loan_id": loan_id}, headers=auditor
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["violations"]
        return found if {(v["rule_id"], v["party"]) for v in found} >= expected else None

    violations = await eventually(listed, within=60)
    assert {(v["rule_id"], v["party"]) for v in violations} == expected
    for violation in violations:
        assert violation["pack_version"].startswith("CN-")
        assert violation["loan_id"] == loan_id
        assert violation["explanation"]

    timeline = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline", params={"lender_id": lid}, headers=auditor
    )
    entries = {entry["leaf_index"]: entry for entry in timeline.json()["entries"]}
    logged = [entry for entry in entries.values() if entry["type"] == VIOLATION]
    assert {e["leaf_index"] for e in logged} == {v["leaf_index"] for v in violations}
    for violation in violations:  # the proof names entries of this loan, the contact first
        contact = entries[violation["leaf_indexes"][0]]
        assert contact["type"] in (
            "collections.agency.activity-recorded",
            "collections.notification.sent",
        )

    by_rule = await platform.clients["compliance"].get(
        "/v1/violations", params={"lender_id": lid, "rule_id": "CN-07"}, headers=auditor
    )
    assert all(v["rule_id"] == "CN-07" for v in by_rule.json()["violations"])
    by_agency = await platform.clients["compliance"].get(
        "/v1/violations", params={"agency_id": "agency-x", "lender_id": lid}, headers=auditor
    )
    assert "POL-01" not in {v["rule_id"] for v in by_agency.json()["violations"]}

    published = await read_topic(
        infrastructure.kafka_bootstrap,
        runtime.topic(Topic.COMPLIANCE),
        {UUID(e["event_id"]) for e in logged},
    )
    assert {copies[0].envelope.data["rule_id"] for copies in published.values()} == {
        rule for rule, _ in expected
    }

    report_of = await platform.clients["compliance"].get(
        "/v1/reports/agencies", params={"lender_id": lid}, headers=auditor
    )
    agency = next(a for a in report_of.json()["agencies"] if a["agency_id"] == "agency-x")
    assert agency["contacts_by_channel"]["visit"] >= 1
    assert agency["violations_by_rule"]["CN-07"] >= 1

    stranger = await platform.issue(Role.AUDITOR, f"lender-none-{uuid4().hex[:6]}", "test")
    theirs = await platform.clients["compliance"].get(
        "/v1/violations", headers={"Authorization": f"Bearer {stranger.api_key}"}
    )
    assert theirs.json()["violations"] == []
