"""``/metrics`` on the running platform (real Kafka and PostgreSQL): operators only, and the
counters move with the flows: a report consumed by every service, a placement, the borrower's
notice sent through a provider, a violation found, a dead letter."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from shared.auth import Role
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_PLACED, OVERDUE_REPORTED
from shared.events.topics import Topic
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.events import activity, placed, publish
from tests.support.factories import new_loan_id, report
from tests.support.scrape import Scrape, scrape

SERVICES = ("intake", "notifier", "agency_gateway", "compliance")


def daytime_zone() -> str:
    """A fixed-offset zone where it is now early afternoon (no quiet hours hold the notice)."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def operator_key(platform: RunningPlatform) -> str:
    return (await platform.issue(Role.OPERATOR, f"prometheus-{uuid4().hex[:6]}")).api_key


async def test_metrics_admit_operators_only(platform: RunningPlatform) -> None:
    operator = await operator_key(platform)
    others = {
        Role.LENDER: platform.credentials.lender["api_key"],
        Role.AGENCY: platform.credentials.agencies[0]["api_key"],
        Role.AUDITOR: platform.credentials.auditor["api_key"],
    }
    for service in SERVICES:
        client = platform.clients[service]
        anonymous = await client.get("/metrics")
        assert anonymous.status_code == 401, (service, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        for role, key in others.items():
            refused = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert refused.status_code == 403, (service, role, refused.text)
        scraped = await scrape(client, "/metrics", operator)
        assert scraped.has("collections_outbox_backlog", service=service)
        assert scraped.has("collections_outbox_oldest_age_seconds", service=service)


async def test_a_report_a_placement_a_send_and_a_violation_move_the_counters(
    platform: RunningPlatform,
) -> None:
    operator = await operator_key(platform)
    ns = platform.namespace

    async def scraped(service: str) -> Scrape:
        return await scrape(platform.clients[service], "/metrics", operator)

    before = {service: await scraped(service) for service in SERVICES}

    # An agency taking new loans (withdrawn again once it has this one, as the auth matrix does).
    gateway = platform.clients["agency_gateway"]
    agency_id = f"AG-metrics-{uuid4().hex[:6]}"
    terms = {"name": agency_id, "jurisdictions": ["CN"], "capacity": 1000, "share": 1}
    as_operator = {"Authorization": f"Bearer {operator}"}
    registered = await gateway.put(f"/v1/agencies/{agency_id}", json=terms, headers=as_operator)
    assert registered.status_code in (200, 201), registered.text

    zone = daytime_zone()
    now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    loan_id = new_loan_id()
    body = report(
        loan_id,
        due_date=(now.date() - timedelta(days=50)).isoformat(),
        days_past_due=50,  # placed at once; the borrower is told (CN-09) through a provider
        as_of=now.isoformat(timespec="seconds"),
    )
    body["borrower"] = {**body["borrower"], "id": f"B-{uuid4().hex[:10]}", "timezone": zone}
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=body, headers=platform.as_lender()
    )
    assert posted.status_code == 202, posted.text

    def moved(where: str, after: Scrape, name: str, /, **labels: str) -> bool:
        return after.value(name, **labels) > before[where].value(name, **labels)

    intake = await scraped("intake")
    route = {"service": "intake", "method": "POST", "route": "/v1/overdue-loans"}
    assert moved("intake", intake, "collections_http_requests_total", **route, status="202")
    assert moved("intake", intake, "collections_http_request_duration_seconds_count", **route)
    assert moved("intake", intake, "collections_events_published_total", type=OVERDUE_REPORTED.name)

    async def gateway_moved() -> bool:
        after = await scraped("agency_gateway")
        return moved("agency_gateway", after, "collections_placements_total", agency=agency_id)

    try:
        await eventually(gateway_moved, within=60, interval=0.5)
    finally:
        withdrawn = await gateway.put(
            f"/v1/agencies/{agency_id}", json=terms | {"active": False}, headers=as_operator
        )
        assert withdrawn.status_code == 200, withdrawn.text

    async def notifier_moved() -> Scrape | None:
        after = await scraped("notifier")
        consumed = {"group": f"{ns}notifier", "type": OVERDUE_REPORTED.name}
        done = (
            moved("notifier", after, "collections_consumer_events_total", **consumed)
            and moved("notifier", after, "collections_notifications_total", status="sent")
            and moved("notifier", after, "collections_provider_sends_total", outcome="sent")
            and moved("notifier", after, "collections_provider_send_duration_seconds_count")
        )
        return after if done else None

    notifier = await eventually(notifier_moved, within=90, interval=0.5)
    assert notifier.has("collections_consumer_lag", group=f"{ns}notifier")

    async def logged() -> bool:
        after = await scraped("compliance")
        consumed = {"group": f"{ns}compliance", "type": OVERDUE_REPORTED.name}
        return after.value("collections_audit_tree_size") > before["compliance"].value(
            "collections_audit_tree_size"
        ) and moved("compliance", after, "collections_consumer_events_total", **consumed)

    await eventually(logged, within=60, interval=0.5)
    assert (await scraped("compliance")).has("collections_audit_checkpoint_age_seconds")

    # A placement the borrower was never told of, and a call at night: violations by the agency.
    other = new_loan_id()
    reported = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=report(other), headers=platform.as_lender()
    )
    assert reported.status_code == 202, reported.text
    lender = platform.credentials.lender["id"]

    async def borrower_ref() -> str | None:
        timeline = await platform.clients["compliance"].get(
            f"/v1/loans/{other}/timeline",
            params={"lender_id": lender},
            headers=platform.as_auditor(),
        )
        if timeline.status_code != 200:
            return None
        entries = timeline.json()["entries"]
        reported = [e for e in entries if "borrower" in e["entry"]["data"]]  # any order
        return str(reported[0]["entry"]["data"]["borrower"]["ref"]) if reported else None

    ref = await eventually(borrower_ref, within=60)
    runtime = platform.runtime("compliance")
    agency = f"agency-{uuid4().hex[:6]}"
    await publish(runtime, ASSIGNMENT_PLACED, lender, other, placed(other, ref, agency))
    night = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, no notice yet
    await publish(
        runtime, AGENCY_ACTIVITY_RECORDED, lender, other, activity(other, ref, agency, night)
    )

    async def violation() -> bool:
        after = await scraped("compliance")
        return after.value("collections_violations_total", party=f"agency:{agency}") > 0

    await eventually(violation, within=60, interval=0.5)


async def test_a_message_no_consumer_can_read_is_counted_as_a_dead_letter(
    platform: RunningPlatform,
) -> None:
    operator = await operator_key(platform)
    group = f"{platform.namespace}notifier"
    labels = {"group": group, "reason": "not a valid event envelope"}
    before = await scrape(platform.clients["notifier"], "/metrics", operator)
    runtime = platform.runtime("notifier")
    await runtime.producer.send_and_wait(
        runtime.topic(Topic.LOANS), b"not an event", key=f"metrics/{uuid4().hex}".encode()
    )

    async def counted() -> bool:
        after = await scrape(platform.clients["notifier"], "/metrics", operator)
        dead = after.value("collections_dead_letters_total", **labels)
        return dead > before.value("collections_dead_letters_total", **labels) and after.value(
            "collections_consumer_events_total", group=group, outcome="dead_lettered"
        ) > before.value("collections_consumer_events_total", group=group, outcome="dead_lettered")

    await eventually(counted, within=60, interval=0.5)
