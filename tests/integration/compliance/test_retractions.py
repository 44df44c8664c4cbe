"""Retractions on events flowing through Kafka: compliance consumes its topics independently,
so a fact can be logged after a contact it excuses. The violation judged before the fact is
retracted by a new entry (its own stays: the log only grows), once, and listed as retracted;
one found again stands again."""

import base64
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_PLACED,
    HOLD_LIFTED,
    HOLD_PLACED,
    NOTIFICATION_EVENTS,
)
from shared.events.models import HoldLifted, HoldPlaced, HoldReason
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.events.topics import Topic
from shared.runtime import ServiceRuntime
from shared.tlog.merkle import leaf_hash, verify_inclusion
from shared.tlog.note import Verifier, open_checkpoint
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.compliance.events import activity, placed, publish, sent
from tests.integration.intake.support import read_topic
from tests.support.factories import new_loan_id, report

FOUND = "collections.compliance.violation-found"
RETRACTED = "collections.compliance.violation-retracted"
TOLD_AT = datetime(2026, 11, 1, 12, tzinfo=UTC)  # the CN-09 notice, 12 h after the placement
NIGHT = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # the call after it, 23:30 in Shanghai: CN-01


class Loan:
    """A reported loan of the demo lender, read as its auditor reads it."""

    def __init__(self, platform: RunningPlatform) -> None:
        self.platform = platform
        self.lender = platform.credentials.lender["id"]
        self.id = new_loan_id()
        self.runtime: ServiceRuntime = platform.runtime("compliance")
        self.ref = ""

    async def reported(self) -> "Loan":
        posted = await self.platform.clients["intake"].post(
            "/v1/overdue-loans",
            json=report(self.id),  # CN, the borrower in Asia/Shanghai
            headers={**self.platform.as_lender(), "Idempotency-Key": str(uuid4())},
        )
        assert posted.status_code == 202, posted.text
        entries = await eventually(lambda: self.timeline(at_least=1), within=30)
        self.ref = entries[0]["entry"]["data"]["borrower"]["ref"]
        return self

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.platform.clients["compliance"].get(
            path, params=params, headers=self.platform.as_auditor()
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def timeline(self, at_least: int = 0) -> list[dict[str, Any]] | None:
        response = await self.platform.clients["compliance"].get(
            f"/v1/loans/{self.id}/timeline",
            params={"lender_id": self.lender},
            headers=self.platform.as_auditor(),
        )
        if response.status_code != 200:
            return None
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries if len(entries) >= at_least else None

    async def violations(self, **params: Any) -> list[dict[str, Any]]:
        page = await self.get("/v1/violations", lender_id=self.lender, loan_id=self.id, **params)
        found: list[dict[str, Any]] = page["violations"]
        return found

    async def violation(self, rule_id: str, *, retracted: bool) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            for v in await self.violations(rule_id=rule_id):
                if (v["retracted_at"] is not None) == retracted:
                    return v
            return None

        return await eventually(probe, within=60)

    async def entries_of(self, event_type: str, violation_id: str) -> list[dict[str, Any]]:
        entries = await self.timeline() or []
        return [
            e
            for e in entries
            if e["type"] == event_type and e["entry"]["data"]["violation_id"] == violation_id
        ]


async def test_a_cn09_notice_logged_after_the_call_retracts_the_violation_once(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    loan = await Loan(platform).reported()
    agency = f"agency-r{uuid4().hex[:6]}"
    runtime, lender = loan.runtime, loan.lender
    await publish(runtime, ASSIGNMENT_PLACED, lender, loan.id, placed(loan.id, loan.ref, agency))
    call = activity(loan.id, loan.ref, agency, NIGHT)
    await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender, loan.id, call)
    cn09 = await loan.violation("CN-09", retracted=False)
    cn01 = await loan.violation("CN-01", retracted=False)
    report_before = await loan.get("/v1/reports/agencies", lender_id=lender)
    assert agency_rules(report_before, agency) == {"CN-01": 1, "CN-09": 1}

    # The notifier's notice, sent before the call, consumed after it (its own topic).
    notice = AGENCY_NOTICE_SENT.envelope(
        source="/tests", subject=loan.id, tenant=lender, data=agency_notice(loan, agency)
    )
    await send(runtime, notice.to_bytes(), notice.key)
    retracted = await loan.violation("CN-09", retracted=True)
    assert retracted["violation_id"] == cn09["violation_id"]
    assert retracted["leaf_index"] == cn09["leaf_index"]  # its own entry stays as it was

    timeline = {e["leaf_index"]: e for e in await loan.timeline() or []}
    notice_leaf = next(i for i, e in timeline.items() if e["event_id"] == str(notice.id))
    entry = timeline[retracted["retraction_leaf_index"]]
    assert entry["type"] == RETRACTED
    data = entry["entry"]["data"]
    assert data["violation_id"] == cn09["violation_id"]
    assert data["rule_id"] == "CN-09"
    assert data["violation_leaf_index"] == cn09["leaf_index"]
    assert notice_leaf in data["clearing_leaf_indexes"]
    # The notifier sends its own notices on the placement (now, so after the call): logged
    # between the violation and this notice, they are clearing facts too (not a minimal set).
    assert all(
        timeline[leaf]["type"] == AGENCY_NOTICE_SENT.name
        and timeline[leaf]["entry"]["data"]["agency_id"] == agency
        for leaf in data["clearing_leaf_indexes"]
    )
    assert "CN-09" in data["explanation"]
    await assert_provable(loan, entry)

    standing = {v["rule_id"] for v in await loan.violations(status="standing")}
    assert "CN-09" not in standing
    assert "CN-01" in standing
    assert [v["rule_id"] for v in await loan.violations(status="retracted")] == ["CN-09"]
    assert {"CN-01", "CN-09"} <= {v["rule_id"] for v in await loan.violations()}
    report_after = await loan.get("/v1/reports/agencies", lender_id=lender)
    assert agency_rules(report_after, agency) == {"CN-01": 1}

    # Redelivered (at least once): the same notice again, then an unrelated later call.
    await send(runtime, notice.to_bytes(), notice.key)
    daytime = activity(loan.id, loan.ref, agency, datetime(2026, 11, 3, 3, tzinfo=UTC))
    await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender, loan.id, daytime)
    await eventually(lambda: logged(loan, daytime.activity_id), within=30)
    retractions = await loan.entries_of(RETRACTED, cn09["violation_id"])
    assert [e["leaf_index"] for e in retractions] == [entry["leaf_index"]]
    assert len(await loan.entries_of(FOUND, cn09["violation_id"])) == 1
    published = await read_topic(
        infrastructure.kafka_bootstrap,
        runtime.topic(Topic.COMPLIANCE),
        {UUID(entry["event_id"])},
    )
    [copies] = published.values()
    assert len(copies) == 1
    assert copies[0].envelope.type == RETRACTED
    assert copies[0].envelope.data["violation_id"] == cn09["violation_id"]

    # The night call's CN-01 stays: later entries do not excuse it.
    [still] = [v for v in await loan.violations() if v["rule_id"] == "CN-01"]
    assert still["violation_id"] == cn01["violation_id"]
    assert (still["retracted_at"], still["retraction_leaf_index"]) == (None, None)
    assert await loan.entries_of(RETRACTED, cn01["violation_id"]) == []

    bad = await platform.clients["compliance"].get(
        "/v1/violations",
        params={"lender_id": lender, "status": "withdrawn"},
        headers=platform.as_auditor(),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "query.status" in bad.text


async def test_a_violation_found_again_after_its_retraction_stands_again(
    platform: RunningPlatform,
) -> None:
    loan = await Loan(platform).reported()
    runtime, lender = loan.runtime, loan.lender
    await publish(runtime, HOLD_PLACED, lender, loan.id, hold(loan, "H-1", 4))
    reminder = sent(loan.id, loan.ref, datetime(2026, 11, 3, 5, tzinfo=UTC))
    await publish(runtime, NOTIFICATION_EVENTS[NotificationStatus.SENT], lender, loan.id, reminder)
    first = await loan.violation("POL-01", retracted=False)

    lifted = HoldLifted(loan_id=loan.id, hold_id="H-1", lifted_at=at_hour(4, 30))
    await publish(runtime, HOLD_LIFTED, lender, loan.id, lifted)  # before the reminder
    retracted = await loan.violation("POL-01", retracted=True)

    await publish(runtime, HOLD_PLACED, lender, loan.id, hold(loan, "H-2", 4, 45))
    again = await loan.violation("POL-01", retracted=False)

    assert again["violation_id"] == first["violation_id"] == retracted["violation_id"]
    found = await loan.entries_of(FOUND, first["violation_id"])
    [retraction] = await loan.entries_of(RETRACTED, first["violation_id"])
    assert [e["leaf_index"] for e in found] == [first["leaf_index"], again["leaf_index"]]
    assert first["leaf_index"] < retraction["leaf_index"] < again["leaf_index"]
    assert (again["retracted_at"], again["retraction_leaf_index"]) == (None, None)
    assert retraction["entry"]["data"]["violation_leaf_index"] == first["leaf_index"]
    assert [v["violation_id"] for v in await loan.violations(status="retracted")] == []


def agency_notice(loan: Loan, agency: str) -> Any:
    data = sent(loan.id, loan.ref, TOLD_AT)
    return data.model_copy(
        update={"kind": NotificationKind.AGENCY_NOTICE, "step": None, "agency_id": agency}
    )


def hold(loan: Loan, hold_id: str, hour: int, minute: int = 0) -> HoldPlaced:
    return HoldPlaced(
        loan_id=loan.id, hold_id=hold_id, reason=HoldReason.DISPUTE, placed_at=at_hour(hour, minute)
    )


def at_hour(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 3, hour, minute, tzinfo=UTC)


def agency_rules(report_of: dict[str, Any], agency: str) -> dict[str, int]:
    rules: dict[str, int] = next(
        a["violations_by_rule"] for a in report_of["agencies"] if a["agency_id"] == agency
    )
    return rules


async def send(runtime: ServiceRuntime, value: bytes, key: str) -> None:
    """Onto the notifier's topic as it publishes (a second call: a redelivered copy)."""
    await runtime.producer.send_and_wait(
        runtime.topic(Topic.NOTIFICATIONS), value, key=key.encode()
    )


async def logged(loan: Loan, activity_id: str) -> bool:
    entries = await loan.timeline() or []
    return any(e["entry"]["data"].get("activity_id") == activity_id for e in entries)


async def assert_provable(loan: Loan, entry: dict[str, Any]) -> None:
    """Canonical bytes like every entry's, included in the signed tree."""
    canonical = base64.b64decode(entry["canonical"])
    assert canonical == orjson.dumps(entry["entry"], option=orjson.OPT_SORT_KEYS)
    leaf = leaf_hash(canonical)
    assert leaf.hex() == entry["leaf_hash"]
    key = await loan.get("/v1/audit/public-key")
    head = await loan.get("/v1/audit/checkpoint")
    signed = open_checkpoint(head["note"], Verifier.parse(key["verifier_key"]))
    proof = await loan.get(
        "/v1/audit/proofs/inclusion", leaf_index=entry["leaf_index"], tree_size=signed.size
    )
    hashes = [bytes.fromhex(h) for h in proof["hashes"]]
    verify_inclusion(entry["leaf_index"], signed.size, leaf, hashes, signed.root_hash)
