"""``collections policy dry-run`` and ``collections rules explain`` on real Kafka and
PostgreSQL, over data the running services produced: each service's replay shows the
differences a changed policy or pack makes (table and JSON), and writes nothing."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db.engine import create_engine, create_session_factory, read_only_transaction
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_PLACED
from tests.harness import RunningPlatform, eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import NORTH, GatewayStack
from tests.integration.agency_gateway.test_handoff import SHANGHAI, notice_sent
from tests.integration.compliance.events import activity, placed, publish
from tests.support.factories import new_loan_id, report
from tests.support.operator_cli import Completed, collections

PERIOD = ["--from", "2026-11-01", "--to", "2027-01-01"]
SHIPPED_CADENCE = Path(__file__).parents[2] / "services/notifier/policies/cn-default.toml"
NIGHT = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai


def env(platform: RunningPlatform) -> dict[str, str]:
    """Each service's settings as the operator's environment gives them."""
    urls = platform.database_urls
    return {
        "NOTIFIER_DATABASE_URL": urls["notifier"],
        "AGENCY_GATEWAY_DATABASE_URL": urls["agency_gateway"],
        "COMPLIANCE_DATABASE_URL": urls["compliance"],
    }


async def invoke(platform: RunningPlatform, *args: str) -> Completed:
    """The command as an operator runs it: a process of its own (in this one, the platform's
    consumers would log into the output the test reads)."""
    result = await collections(*args, env=env(platform))
    assert result.code == 0, result.err
    return result


async def row_counts(url: str) -> dict[str, int]:
    """Every table's row count, and the outbox's unpublished rows."""
    engine = create_engine(url, 1)
    try:
        async with engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            counts = {}
            for (table,) in tables:
                count = f'SELECT count(*) FROM "{table}"'  # noqa: S608 (names from pg_tables)
                found = await connection.execute(text(count))
                counts[table] = found.scalar_one()
            pending = await connection.execute(
                text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            )
            counts["outbox unpublished"] = pending.scalar_one()
            return counts
    finally:
        await engine.dispose()


async def at_rest(url: str) -> dict[str, int]:
    """The row counts once the service has finished with what it consumed (two reads a second
    apart agree)."""
    last = await row_counts(url)
    for _ in range(60):
        await asyncio.sleep(1)
        now = await row_counts(url)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{url} never came to rest")


async def reported(platform: RunningPlatform, loan_id: str, **changes: Any) -> str:
    """Report a loan at intake; its borrower pseudonym once compliance logged the report."""
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=report(loan_id, **changes),
        headers={**platform.as_lender(), "Idempotency-Key": str(uuid4())},
    )
    assert posted.status_code == 202, posted.text

    async def borrower_ref() -> str | None:
        response = await platform.clients["compliance"].get(
            f"/v1/loans/{loan_id}/timeline",
            params={"lender_id": platform.credentials.lender["id"]},
            headers=platform.as_auditor(),
        )
        if response.status_code != 200:
            return None
        reported = [e for e in response.json()["entries"] if "borrower" in e["entry"]["data"]]
        # the first entry logged may be another event of the same batch (not causal order)
        return str(reported[0]["entry"]["data"]["borrower"]["ref"]) if reported else None

    return await eventually(borrower_ref, within=60)


async def settled(platform: RunningPlatform, service: str, query: str, **params: Any) -> Any:
    engine = create_engine(platform.database_urls[service], 1)
    try:

        async def found() -> Any:
            async with engine.connect() as connection:
                return (await connection.execute(text(query), params)).scalar()

        return await eventually(found, within=60)
    finally:
        await engine.dispose()


async def test_a_lower_placement_threshold_places_a_young_loan_and_writes_nothing(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    young = new_loan_id()
    await reported(platform, young, days_past_due=20, as_of="2026-11-21T09:00:00+08:00")
    status = await settled(
        platform,
        "agency_gateway",
        "SELECT placement_note FROM collection_cases WHERE loan_id = :loan",
        loan=young,
    )
    assert status == "below_threshold"
    candidate = tmp_path / "placement.toml"
    candidate.write_text(
        'version = "2026-12-06.1"\nthreshold_days = 15\nminimum_amount = "100.00"\n'
        "[challenger]\npercent = 0\n"
    )
    url = platform.database_urls["agency_gateway"]
    before = await at_rest(url)
    as_json = await invoke(
        platform, "policy", "dry-run", "--placement", str(candidate), *PERIOD, "--json"
    )
    report_ = json.loads(as_json.out)
    mine = [d for d in report_["differences"] if d["loan_id"] == young]
    assert mine == [
        {
            "lender_id": platform.credentials.lender["id"],
            "loan_id": young,
            "days_past_due": 20,
            "amount": "1250.0000 CNY",
            "actual": "awaiting_threshold",
            "current": "below_threshold",
            "candidate": "place",
            "change": "placed",
        }
    ]
    assert report_["summary"]["placed"] >= 1
    assert (report_["candidate"], report_["current"]) == ("2026-12-06.1", "2026-12-01.1")
    table = await invoke(platform, "policy", "dry-run", "--placement", str(candidate), *PERIOD)
    assert young in table.out
    assert "below_threshold" in table.out
    assert "candidate_places" in table.out
    assert await row_counts(url) == before


async def test_a_shorter_cadence_drops_reminders_and_writes_nothing(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    loan_id = new_loan_id()
    await reported(platform, loan_id, days_past_due=1, as_of="2026-11-02T09:00:00+08:00")
    await settled(
        platform, "notifier", "SELECT policy_id FROM loans WHERE loan_id = :loan", loan=loan_id
    )
    shipped = SHIPPED_CADENCE.read_text("utf-8")
    steps = shipped.split("[[steps]]")
    last = steps[-1].split("[retry]")
    shorter = "[[steps]]".join(steps[:3]) + "[retry]" + last[1]  # days 1 and 3 only
    shorter = shorter.replace('version = "2026-12-01.1"', 'version = "2026-12-06.1"')
    candidate = tmp_path / "cn-default.toml"
    candidate.write_text(shorter, "utf-8")
    url = platform.database_urls["notifier"]
    before = await at_rest(url)
    result = await invoke(
        platform, "policy", "dry-run", "--cadence", str(candidate), *PERIOD, "--json"
    )
    report_ = json.loads(result.out)
    mine = [d for d in report_["differences"] if d["loan_id"] == loan_id]
    assert [(d["change"], d["channel"], d["template"]) for d in mine] == [
        ("not_sent", "email", "reminder_firm_email"),
        ("not_sent", "sms", "reminder_final_sms"),
    ]
    assert [d["at"] for d in mine] == ["2026-11-06T10:00:00+08:00", "2026-11-11T10:00:00+08:00"]
    assert report_["candidate"] == "cn-default@2026-12-06.1"
    table = await invoke(platform, "policy", "dry-run", "--cadence", str(candidate), *PERIOD)
    assert loan_id in table.out
    assert "reminder_final_sms" in table.out
    assert await row_counts(url) == before


async def test_a_stricter_pack_finds_a_past_violation_and_explain_names_the_rule(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    loan_id = new_loan_id()
    lender = platform.credentials.lender["id"]
    ref = await reported(platform, loan_id)
    runtime = platform.runtime("compliance")
    await publish(runtime, ASSIGNMENT_PLACED, lender, loan_id, placed(loan_id, ref, "agency-p"))
    calls = [activity(loan_id, ref, "agency-p", NIGHT.replace(hour=h)) for h in (2, 3, 4)]
    calls.append(activity(loan_id, ref, "agency-p", NIGHT))
    for call in calls:
        await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender, loan_id, call)
    await settled(
        platform,
        "compliance",
        "SELECT count(*) FROM violations WHERE loan_id = :loan AND rule_id = 'CN-01' "
        "HAVING count(*) > 0",
        loan=loan_id,
    )
    overlay = tmp_path / "tight.toml"
    overlay.write_text(
        'label = "tight"\nbase = "CN-2026.1"\n[rules.CN-03]\nparams = { max_per_day = 2 }\n'
    )
    url = platform.database_urls["compliance"]
    before = await at_rest(url)
    base = json.loads(
        (
            await invoke(
                platform,
                "policy",
                "dry-run",
                "--rule-pack",
                str(overlay),
                *PERIOD,
                "--json",
                "--lender",
                lender,
            )
        ).out
    )
    mine = [d for d in base["differences"] if d["loan_id"] == loan_id]
    assert [(d["rule_id"], d["change"], d["party"]) for d in mine] == [
        ("CN-03", "violation", "agency:agency-p"),
        ("CN-03", "violation", "agency:agency-p"),
    ]
    assert base["candidate"].endswith("+tight")
    table = await invoke(platform, "policy", "dry-run", "--rule-pack", str(overlay), *PERIOD)
    assert "CN-03" in table.out
    assert "new_violations" in table.out

    night = f"agency:agency-p:{calls[-1].activity_id}"
    explained = await invoke(
        platform,
        "rules",
        "explain",
        "--lender",
        lender,
        "--loan",
        loan_id,
        "--contact",
        night,
        "--json",
    )
    answer = json.loads(explained.out)
    verdicts = {r["rule_id"]: r for r in answer["rules"]}
    assert answer["mode"] == "judge"
    assert not answer["allowed"]
    assert verdicts["CN-01"]["verdict"] == "broken"
    assert verdicts["CN-01"]["source"].startswith("NIFA")
    assert verdicts["CN-02"]["verdict"] == "kept"
    assert answer["facts"]["borrower_zone"] == "Asia/Shanghai"
    proposed = await invoke(
        platform,
        "rules",
        "explain",
        "--lender",
        lender,
        "--loan",
        loan_id,
        "--party",
        "agency:agency-p",
        "--channel",
        "phone_call",
        "--at",
        NIGHT.isoformat(),
    )
    assert "CN-01" in proposed.out
    assert "refuses" in proposed.out
    assert "refused" in proposed.out
    assert await row_counts(url) == before


@pytest.mark.parametrize(
    ("service", "table"),
    [("notifier", "loans"), ("agency_gateway", "collection_cases"), ("compliance", "violations")],
)
async def test_the_replay_transaction_refuses_writes(
    platform: RunningPlatform, service: str, table: str
) -> None:
    engine = create_engine(platform.database_urls[service], 1)
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with read_only_transaction(create_session_factory(engine)) as session:
                await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    finally:
        await engine.dispose()


async def test_explain_gives_the_rules_of_a_real_contact_check_refusal(
    infrastructure: TestInfrastructure,
) -> None:
    """An agency's call the gateway refused (its own platform, with an agency registered):
    ``rules explain`` of the same call names the same refusing rules, from compliance's log."""
    async with running_platform(infrastructure) as own:
        stack = GatewayStack(own, infrastructure.kafka_bootstrap)
        await stack.register(NORTH)
        loan_id = await stack.report(days=50)
        assignment = await stack.placed(loan_id)
        check = f"/v1/assignments/{assignment['assignment_id']}/contact-check"
        day = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI).date()
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)
        night = noon.replace(hour=23, minute=30)

        async def asked(at: datetime) -> dict[str, Any]:
            answer = await stack.gateway.post(
                check, json={"channel": "call", "at": at.isoformat()}, headers=stack.agency(NORTH)
            )
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = answer.json()
            return found

        # The CN-09 notice, as the notifier publishes it (the notifier itself sends it only in
        # the borrower's contact hours, which the time the test runs at may be outside of).
        await notice_sent(stack, loan_id, NORTH)

        async def told() -> bool:  # the notice reached the gateway
            return bool((await asked(noon))["allowed"])

        await eventually(told, within=60)
        refused = await asked(night)
        assert not refused["allowed"]
        assert "CN-01" in refused["rules"]
        await settled(
            own,
            "compliance",
            "SELECT count(*) FROM audit_entries WHERE loan_id = :loan "
            "AND event_type = 'collections.notification.agency-notice-sent' HAVING count(*) > 0",
            loan=loan_id,
        )
        args = ["--lender", own.credentials.lender["id"], "--loan", loan_id]
        args += ["--party", f"agency:{NORTH}", "--channel", "phone_call", "--at", night.isoformat()]
        explained = await invoke(own, "rules", "explain", *args, "--json")
        answer = json.loads(explained.out)
        assert not answer["allowed"]
        refusing = [r["rule_id"] for r in answer["rules"] if r["verdict"] == "refuses"]
        assert refusing == refused["rules"]
        assert answer["facts"]["placements"][0]["agency_id"] == NORTH
        assert answer["facts"]["placements"][0]["borrower_notified_at"] is not None
        at_noon = await invoke(own, "rules", "explain", *args[:8], "--at", noon.isoformat())
        assert f"agency {NORTH} phone_call" in at_noon.out
        assert "allowed by CN-2026.1" in " ".join(at_noon.out.split())
