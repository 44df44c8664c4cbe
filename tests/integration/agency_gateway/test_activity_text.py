"""Agencies' free text on real Kafka and PostgreSQL, with compliance's audit log: the text stays
sealed in the gateway (erasable, re-sealable), events and the append-only log hold only its keyed
hash and the banned phrases found in it."""

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text

from services.agency_gateway.adapters.activities import PURPOSE, ActivityTexts
from shared.crypto import KeyRing
from shared.events.topics import Topic
from tests.harness import eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack, gateway_options

SECRET = "借款人说周五还款, call back on +8613800138000\n\tafter 6 pm"
THREAT = "said an Arrest Warrant was coming"  # CN-06 banned wording, in what an sms said


@pytest.fixture(scope="module")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[GatewayStack]:
    """Intake, the gateway and compliance, with the two demo agencies."""
    services = ("intake", "agency_gateway", "compliance")
    async with running_platform(infrastructure, services, gateway_options()) as platform:
        running = GatewayStack(platform, infrastructure.kafka_bootstrap)
        await running.register(NORTH, share=3)
        await running.register(SOUTH, share=1)
        yield running


def activity(**changes: Any) -> dict[str, Any]:
    return {
        "activity_id": f"ACT-{uuid4().hex[:8]}",
        "type": "note",
        "direction": "outbound",
        "outcome": "delivered",
        "at": datetime.now(UTC).isoformat(),
    } | changes


def data_keys(stack: GatewayStack) -> KeyRing:
    return KeyRing.parse(stack.platform.secrets.storage_keys["agency_gateway"])


async def stored_row(stack: GatewayStack, activity_id: str) -> dict[str, Any]:
    runtime = stack.platform.runtime("agency_gateway")
    async with runtime.sessions() as session:
        found = await session.execute(
            text("SELECT * FROM activities WHERE activity_id = :id"), {"id": activity_id}
        )
        return dict(found.one()._mapping)


async def audit_entries(stack: GatewayStack, loan_id: str) -> list[dict[str, Any]] | None:
    answer = await stack.platform.clients["compliance"].get(
        "/v1/audit/entries",
        params={"loan_id": loan_id, "lender_id": stack.lender_id},
        headers=stack.platform.as_auditor_of_every_lender(),
    )
    assert answer.status_code == 200, answer.text
    found = [
        e for e in answer.json()["entries"] if e["type"] == "collections.agency.activity-recorded"
    ]
    return found if len(found) >= 2 else None


async def test_the_text_stays_sealed_in_the_gateway_and_the_log_holds_its_keyed_hash(
    stack: GatewayStack,
) -> None:
    loan_id = await stack.report()
    assignment = await stack.placed(loan_id)
    path = f"/v1/assignments/{assignment['assignment_id']}/activities"
    agency = stack.agency(assignment["agency_id"])
    note = activity(text=SECRET)
    sms = activity(type="sms", text=THREAT)
    for report in (note, sms):
        posted = await stack.gateway.post(path, json=report, headers=agency)
        assert posted.status_code == 201, posted.text
    again = await stack.gateway.post(path, json=note, headers=agency)
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    other = await stack.gateway.post(path, json=note | {"text": "something else"}, headers=agency)
    assert other.status_code == 409, other.text

    ring = data_keys(stack)
    events = await stack.events(Topic.AGENCY_ACTIVITIES, loan_id, lambda found: len(found) >= 2)
    published = {e.data["activity_id"]: e.data for e in events}
    assert "text" not in published[note["activity_id"]]
    assert published[note["activity_id"]]["text_hmac"] == ring.keyed_hash(SECRET.encode(), PURPOSE)
    assert hashlib.sha256(SECRET.encode()).hexdigest() not in str(published)
    assert published[note["activity_id"]]["banned_phrases"] == []
    assert published[sms["activity_id"]]["banned_phrases"] == ["arrest warrant"]
    for event in events:
        assert "周五" not in event.to_bytes().decode()
        assert "Warrant" not in str(event.data)

    row = await stored_row(stack, note["activity_id"])
    assert "text" not in row["body"]
    assert row["text_sealed"]["kid"] == ring.primary
    assert SECRET not in str(row)
    assert ActivityTexts(ring).open(row) == SECRET  # the gateway can still read it

    entries = await eventually(lambda: audit_entries(stack, loan_id))
    for entry in entries:
        logged = base64.b64decode(entry["canonical"]).decode()
        assert "周五" not in logged
        assert "Warrant" not in logged
        assert "text" not in entry["entry"]["data"]
        assert entry["entry"]["data"]["text_hmac"].startswith(f"{ring.primary}:")
