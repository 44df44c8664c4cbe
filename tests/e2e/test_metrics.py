"""``/metrics`` of each service on the whole platform as processes (as on ``make run``): scraped
with an operator key before and after a report flows through, the metrics of every step move:
intake's request and its event, the notifier's consumption, notice and provider send, the
gateway's placement, compliance's audit log; and the borrowers' site counts its page by its
route template, never by the token in the path."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest

from shared.auth import Role
from shared.auth.registry import CredentialIssuer, credentials_topic
from shared.events.catalog import ASSIGNMENT_PLACED, OVERDUE_REPORTED
from tests.e2e.fault_driver import daytime_zone
from tests.e2e.process_platform import ProcessPlatform, Replica, process_platform
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.support.factories import report
from tests.support.scrape import Scrape, scrape

LINK = re.compile(r"https?://127\.0\.0\.1:\d+/b/(b1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
SETTINGS = {"agency_gateway": {"placement_idle_seconds": 0.2}}
SERVICES = ("intake", "notifier", "agency_gateway", "compliance")


@pytest.fixture(scope="module")
async def processes(
    infrastructure: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ProcessPlatform]:
    logs: Path = tmp_path_factory.mktemp("metrics")
    async with process_platform(infrastructure, logs, SETTINGS, borrower_site=True) as running:
        yield running


async def operator_key(platform: ProcessPlatform) -> str:
    """A key for Prometheus, as ``collections keys issue --role operator`` makes one; once
    every replica admits it."""
    issuer = CredentialIssuer(
        platform.infrastructure.kafka_bootstrap, credentials_topic(platform.namespace)
    )
    issued = await issuer.issue(Role.OPERATOR, "prometheus", "e2e metrics")

    async def admitted() -> bool:
        async with httpx.AsyncClient() as client:
            for replica in replicas(platform):
                answer = await client.get(
                    f"{replica.url}/metrics", headers={"Authorization": f"Bearer {issued.api_key}"}
                )
                if answer.status_code != 200:
                    return False
        return True

    await eventually(admitted, within=30, interval=0.3)
    return issued.api_key


def replicas(platform: ProcessPlatform) -> list[Replica]:
    found = [replica for service in SERVICES for replica in platform.replicas[service]]
    assert platform.borrower_site is not None
    return [*found, platform.borrower_site]


async def scraped(platform: ProcessPlatform, service: str, key: str) -> Scrape:
    """Every replica of the service, their samples together (sums add up across them)."""
    total = Scrape([])
    async with httpx.AsyncClient() as client:
        for replica in platform.replicas[service]:
            total += await scrape(client, f"{replica.url}/metrics", key)
    return total


async def test_a_report_moves_the_metrics_of_every_service(processes: ProcessPlatform) -> None:
    platform = processes
    key = await operator_key(platform)
    async with httpx.AsyncClient() as client:
        refused = await client.get(f"{platform.first('notifier').url}/metrics")
        assert refused.status_code == 401
        as_lender = await client.get(
            f"{platform.first('intake').url}/metrics", headers=platform.lender()
        )
        assert as_lender.status_code == 403
    before = {service: await scraped(platform, service, key) for service in SERVICES}

    zone = daytime_zone()
    now = datetime.now(UTC).astimezone(ZoneInfo(zone))
    loan_id, phone = f"L-{uuid4().hex[:12]}", f"+86139{uuid4().int % 10**8:08d}"
    body = report(
        loan_id,
        due_date=(now.date() - timedelta(days=50)).isoformat(),
        days_past_due=50,  # placed at once: the borrower is told (CN-09) by a provider
        as_of=now.isoformat(timespec="seconds"),
    )
    body["borrower"] = {
        **body["borrower"],
        "id": f"B-{uuid4().hex[:10]}",
        "phone": phone,
        "email": f"{uuid4().hex[:10]}@example.com",
        "timezone": zone,
    }
    async with httpx.AsyncClient() as client:
        posted = await client.post(
            f"{platform.first('intake').url}/v1/overdue-loans",
            json=body,
            headers=platform.lender(),
        )
    assert posted.status_code == 202, posted.text

    def grew(service: str, after: Scrape, name: str, /, **labels: str) -> bool:
        return after.value(name, **labels) > before[service].value(name, **labels)

    intake = await scraped(platform, "intake", key)
    request = {"method": "POST", "route": "/v1/overdue-loans", "status": "202"}
    assert grew("intake", intake, "collections_http_requests_total", **request)
    assert grew("intake", intake, "collections_events_published_total", type=OVERDUE_REPORTED.name)
    applied = {"type": OVERDUE_REPORTED.name, "outcome": "applied"}

    async def moved(service: str, *checks: tuple[str, dict[str, str]]) -> bool:
        after = await scraped(platform, service, key)
        return all(grew(service, after, name, **labels) for name, labels in checks)

    async def gateway() -> bool:
        return await moved(
            "agency_gateway",
            ("collections_consumer_events_total", applied),
            ("collections_placements_total", {}),
            ("collections_events_published_total", {"type": ASSIGNMENT_PLACED.name}),
        )

    async def notifier() -> bool:
        return await moved(
            "notifier",
            ("collections_consumer_events_total", applied),
            ("collections_notifications_total", {"status": "sent"}),
            ("collections_provider_sends_total", {"outcome": "sent"}),
            ("collections_provider_send_duration_seconds_count", {}),
        )

    async def compliance() -> bool:
        after = await scraped(platform, "compliance", key)
        size = "collections_audit_tree_size"  # a gauge: each replica reads the one log
        return grew("compliance", after, "collections_consumer_events_total", **applied) and (
            max(v for n, _, v in after.samples if n == size)
            > max(v for n, _, v in before["compliance"].samples if n == size)
        )

    await eventually(gateway, within=90, interval=0.5)
    await eventually(notifier, within=90, interval=0.5)
    await eventually(compliance, within=90, interval=0.5)

    async def link() -> str | None:
        async with httpx.AsyncClient() as client:
            listed = await client.get(f"{platform.providers_url}/v1/messages", params={"to": phone})
        found = (LINK.search(message["body"]) for message in reversed(listed.json()))
        return next((match.group(1) for match in found if match), None)

    token = await eventually(link, within=60, interval=0.5)
    site = platform.borrower_site
    assert site is not None
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{site.url}/b/{token}")
        assert page.status_code == 200, page.text
        exposed = await client.get(
            f"{site.url}/metrics", headers={"Authorization": f"Bearer {key}"}
        )
    assert exposed.status_code == 200, exposed.text
    assert token not in exposed.text
    pages = Scrape.parse(exposed.text)
    route = {"service": "intake-borrower", "method": "GET", "route": "/b/{token}"}
    assert pages.value("collections_http_requests_total", **route, status="200") >= 1
