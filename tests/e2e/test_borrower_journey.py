"""The borrower's side as a borrower, a lender and an agency live it, on the whole platform as
processes (each service, intake's borrowers' site and the local providers in their own OS
process, as on ``make run``):

- the link in a message the local providers received opens the borrower's page;
- a dispute filed with that link stops the reminders and every agency's contact within
  seconds; the lender rejects it and collection resumes, and the borrower is told;
- an access request is ready within a minute with what each service holds; a deletion request
  answers what was erased and what is kept, why and until when;
- a tampered, revoked or unknown link gives nothing away, and no process logged a token.
"""

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import DEMO_AGENCIES
from shared.events.borrowers import DATA_HOLDERS
from tests.e2e.fault_driver import daytime_zone
from tests.e2e.process_platform import ProcessPlatform, process_platform
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.support.factories import report
from tests.support.table_scan import scan

LINK = re.compile(r"https?://127\.0\.0\.1:\d+/b/(b1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
SETTINGS: dict[str, dict[str, Any]] = {
    "notifier": {"retry_initial_seconds": 0.2, "retry_max_seconds": 1.0},
    "agency_gateway": {"placement_idle_seconds": 0.2, "webhook_idle_seconds": 0.5},
}
ACTIVE = frozenset({"placed", "acknowledged"})  # an assignment's statuses while it is held
WITHIN_SECONDS = 10.0  # "within seconds": a hold reaches every party in well under this
STAYS_SEALED = frozenset(
    (service, "outbox") for service in ("intake", "notifier", "agency_gateway")
)
"""Where a sealed value of an erased loan may still rest, and why: events (the report that
carried the contact details under the transit keys, a service's sealed answer) wait in their
service's outbox until its relay publishes and deletes them (a row parked and given up, until
its retention job deletes it: ``<PREFIX>OUTBOX_RETENTION_HOURS``, 168 by default); they hold
no plaintext."""


@dataclass
class Borrower:
    loan_id: str
    name: str
    phone: str
    email: str


@dataclass
class Journey:
    platform: ProcessPlatform
    logs: Path
    tokens: set[str] = field(default_factory=set)  # every token the test saw, for the log scan

    @property
    def site(self) -> str:
        assert self.platform.borrower_site is not None
        return self.platform.borrower_site.url

    def intake(self, path: str) -> str:
        return f"{self.platform.first('intake').url}{path}"

    def gateway(self, path: str) -> str:
        return f"{self.platform.first('agency_gateway').url}{path}"

    async def report(self, days: int) -> Borrower:
        """A new borrower's loan ``days`` overdue, in a zone where it is now daytime."""
        zone = daytime_zone()
        local_now = datetime.now(UTC).astimezone(ZoneInfo(zone))
        borrower = Borrower(
            f"L-{uuid4().hex[:12]}",
            f"Borrower {uuid4().hex[:10]}",
            f"+86139{uuid4().int % 10**8:08d}",
            f"{uuid4().hex[:10]}@example.com",
        )
        body = report(
            borrower.loan_id,
            due_date=(local_now.date() - timedelta(days=days)).isoformat(),
            days_past_due=days,
            as_of=local_now.isoformat(timespec="seconds"),
        )
        body["borrower"] = {
            **body["borrower"],
            "id": f"B-{uuid4().hex[:10]}",
            "name": borrower.name,
            "phone": borrower.phone,
            "email": borrower.email,
            "timezone": zone,
        }
        async with httpx.AsyncClient() as client:
            posted = await client.post(
                self.intake("/v1/overdue-loans"), json=body, headers=self.platform.lender()
            )
        assert posted.status_code == 202, posted.text
        return borrower

    async def link(self, borrower: Borrower, within: float = 90.0) -> str:
        """The token of the newest link a message to this borrower carried."""

        async def found() -> str | None:
            async with httpx.AsyncClient() as client:
                for to in (borrower.phone, borrower.email):
                    listed = await client.get(
                        f"{self.platform.providers_url}/v1/messages", params={"to": to}
                    )
                    for message in reversed(listed.json()):
                        if match := LINK.search(message["body"]):
                            return match.group(1)
            return None

        token = await eventually(found, within=within, interval=0.5)
        self.tokens.add(token)
        return token

    async def me(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.site) as client:
            return await client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )

    async def assignment(self, loan_id: str) -> tuple[str, str] | None:
        """The agency holding the loan now and its assignment id, if one holds it."""
        async with httpx.AsyncClient() as client:
            for agency in DEMO_AGENCIES:
                listed = await client.get(
                    self.gateway("/v1/assignments"), headers=self.platform.agency(agency)
                )
                for item in listed.json().get("items", []):
                    if item["loan_id"] == loan_id and item["status"] in ACTIVE:
                        return agency, item["assignment_id"]
        return None

    async def contact_check(self, loan_id: str) -> dict[str, Any] | None:
        """The contact check for a call by the agency holding the loan now (None when no
        agency holds it, or its assignment ended in between)."""
        held = await self.assignment(loan_id)
        if held is None:
            return None
        agency, assignment_id = held
        async with httpx.AsyncClient() as client:
            checked = await client.post(
                self.gateway(f"/v1/assignments/{assignment_id}/contact-check"),
                json={"channel": "call"},
                headers=self.platform.agency(agency),
            )
        answer: dict[str, Any] = checked.json()
        return answer if checked.status_code == 200 else None

    async def may_call(self, loan_id: str) -> bool:
        """Whether an agency may call the borrower now: one holds the loan and its check
        allows it."""
        answer = await self.contact_check(loan_id)
        return answer is not None and bool(answer["allowed"])

    async def notifications(self, loan_id: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            listed = await client.get(
                f"{self.platform.first('notifier').url}/v1/loans/{loan_id}/notifications",
                headers=self.platform.lender(),
            )
        if listed.status_code != 200:
            return []
        found: list[dict[str, Any]] = listed.json()["notifications"]
        return found


async def sealed_values_of(urls: dict[str, str], loan_id: str) -> set[tuple[str, str]]:
    """The (database, table) pairs with a row that holds a sealed value and names the loan."""
    return {
        (found.database, found.table)
        for database, url in urls.items()
        for found in await scan(database, url, ['"ct":'], with_=loan_id)
    }


@pytest.fixture(scope="module")
async def journey(
    infrastructure: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Journey]:
    logs = tmp_path_factory.mktemp("borrower-journey")
    async with process_platform(infrastructure, logs, SETTINGS, borrower_site=True) as platform:
        yield Journey(platform, logs)


async def test_the_link_in_the_agency_notice_opens_the_borrowers_page(journey: Journey) -> None:
    borrower = await journey.report(days=50)  # placed at once: the CN-09 notice carries a link
    token = await journey.link(borrower)
    async with httpx.AsyncClient() as client:
        page = await client.get(f"{journey.site}/b/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "Demo Consumer Finance" in page.text
    me = await journey.me(token, "GET", "/v1/me")
    assert me.status_code == 200
    assert me.json()["loan_id"] == borrower.loan_id
    assert me.json()["lender_id"] == journey.platform.credentials.lender["id"]


async def test_a_dispute_holds_every_agency_until_the_lender_rejects_it(journey: Journey) -> None:
    borrower = await journey.report(days=50)
    token = await journey.link(borrower)
    await eventually(lambda: journey.may_call(borrower.loan_id), within=90, interval=0.5)

    filed = await journey.me(
        token, "POST", "/v1/me/disputes", json={"reason": "not_mine", "details": "Not my loan."}
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "open"
    dispute_id = filed.json()["dispute_id"]
    started = time.monotonic()

    async def refused() -> bool:
        return not await journey.may_call(borrower.loan_id)

    await eventually(refused, within=WITHIN_SECONDS, interval=0.2)
    took = time.monotonic() - started
    print(f"\nevery agency refused contact {took:.1f} s after the dispute was filed")

    async with httpx.AsyncClient() as client:
        loan = await client.get(
            journey.intake(f"/v1/loans/{borrower.loan_id}"), headers=journey.platform.lender()
        )
        (listed,) = [d for d in loan.json()["disputes"] if d["dispute_id"] == dispute_id]
        assert listed["status"] == "open"
        resolved = await client.post(
            journey.intake(f"/v1/loans/{borrower.loan_id}/disputes/{dispute_id}/resolution"),
            json={"outcome": "rejected", "note": "The contract is signed by the borrower."},
            headers=journey.platform.lender(),
        )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "rejected"

    # The rejection lifts the hold: the loan is placed again, and what still stands between
    # the agency and the borrower is the CN-09 notice of that new placement (sent within the
    # contact rules' daily cap), never the dispute's hold.
    async def no_longer_held() -> dict[str, Any] | None:
        answer = await journey.contact_check(borrower.loan_id)
        if answer is None or "POL-01" in answer["rules"]:
            return None
        return answer

    resumed = await eventually(no_longer_held, within=60, interval=0.5)
    assert resumed["allowed"] or resumed["rules"] == ["CN-09"], resumed

    async def told() -> list[dict[str, Any]]:
        return [
            n
            for n in await journey.notifications(borrower.loan_id)
            if n["kind"] == "dispute_outcome"
        ]

    (outcome,) = await eventually(told, within=30, interval=0.5)
    assert outcome["template"] == "dispute_rejected_sms"
    assert outcome["status"] in {"scheduled", "sent", "delivered"}  # within the daily cap
    me = await journey.me(token, "GET", "/v1/me")
    (mine,) = [d for d in me.json()["disputes"] if d["dispute_id"] == dispute_id]
    assert mine["status"] == "rejected"
    assert mine["resolved_at"] is not None


async def test_preferences_set_on_the_page_reach_every_agencys_check(journey: Journey) -> None:
    borrower = await journey.report(days=50)
    token = await journey.link(borrower)
    await eventually(lambda: journey.may_call(borrower.loan_id), within=90, interval=0.5)
    changed = await journey.me(
        token,
        "PUT",
        "/v1/me/contact-preferences",
        json={"opted_out_channels": ["phone_call"], "inconvenient_times": []},
    )
    assert changed.status_code == 200, changed.text

    async def refused() -> bool:
        return not await journey.may_call(borrower.loan_id)

    await eventually(refused, within=WITHIN_SECONDS, interval=0.2)
    answer = await journey.contact_check(borrower.loan_id)
    assert answer is not None
    assert answer["allowed"] is False


async def test_a_dispute_cancels_the_reminders_still_to_come(journey: Journey) -> None:
    borrower = await journey.report(days=3)

    async def scheduled() -> list[dict[str, Any]]:
        return [
            n for n in await journey.notifications(borrower.loan_id) if n["status"] == "scheduled"
        ]

    assert await eventually(scheduled, within=30)
    engine = create_async_engine(journey.platform.database_urls["notifier"])
    try:
        async with engine.begin() as connection:  # time passes: the first reminder is due
            await connection.execute(
                text(
                    "UPDATE notifications SET due_at = now() "
                    "WHERE loan_id = :loan AND status = 'scheduled' "
                    "AND step = (SELECT min(step) FROM notifications WHERE loan_id = :loan)"
                ),
                {"loan": borrower.loan_id},
            )
    finally:
        await engine.dispose()
    token = await journey.link(borrower)
    assert await eventually(scheduled, within=30)  # the cadence's later steps
    filed = await journey.me(token, "POST", "/v1/me/disputes", json={"reason": "already_paid"})
    assert filed.status_code == 201, filed.text

    async def none_scheduled() -> bool:
        return not await scheduled()

    await eventually(none_scheduled, within=WITHIN_SECONDS, interval=0.2)
    statuses = {n["status"] for n in await journey.notifications(borrower.loan_id)}
    assert "cancelled" in statuses


async def test_an_access_request_is_ready_within_a_minute_with_each_services_data(
    journey: Journey,
) -> None:
    borrower = await journey.report(days=50)
    token = await journey.link(borrower)
    await eventually(lambda: journey.may_call(borrower.loan_id), within=90, interval=0.5)
    asked = await journey.me(token, "POST", "/v1/me/data-requests", json={"kind": "access"})
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending"
    request_id = asked.json()["request_id"]

    async def ready() -> dict[str, Any] | None:
        got = await journey.me(token, "GET", f"/v1/me/data-requests/{request_id}")
        body: dict[str, Any] = got.json()
        return body if body["status"] == "ready" else None

    asked_at = time.monotonic()
    answer = await eventually(ready, within=60, interval=0.5)
    print(f"\nthe access request was ready {time.monotonic() - asked_at:.1f} s after it was made")
    by_service = {a["service"]: a for a in answer["answers"]}
    assert set(by_service) == {"intake", *DATA_HOLDERS}
    for service in ("intake", "notifier", "agency_gateway"):
        values = {item["value"] for item in by_service[service]["personal_data"]}
        assert borrower.phone in values, service
    assert by_service["compliance"]["personal_data"] == []
    (shared,) = by_service["agency_gateway"]["shared_with"]
    assert shared["party_id"] in DEMO_AGENCIES
    assert by_service["notifier"]["contacts"]  # the agency notice, at least
    assert by_service["compliance"]["contacts"]


async def test_a_deletion_request_answers_what_was_erased_and_what_is_kept(
    journey: Journey,
) -> None:
    borrower = await journey.report(days=50)
    token = await journey.link(borrower)
    async with httpx.AsyncClient() as client:
        closed = await client.post(
            journey.intake(f"/v1/loans/{borrower.loan_id}/close"),
            json={"reason": "settled", "closed_at": datetime.now(UTC).isoformat()},
            headers=journey.platform.lender(),
        )
    assert closed.status_code in {200, 202}, closed.text

    async def closed_everywhere() -> bool:
        return not await journey.assignment(borrower.loan_id)

    await eventually(closed_everywhere, within=60, interval=0.5)
    urls = journey.platform.database_urls
    before = await sealed_values_of(urls, borrower.loan_id)
    assert {("intake", "loans"), ("notifier", "loans"), ("agency_gateway", "collection_cases")} <= (
        before
    )  # the scan finds them while they are there
    asked = await journey.me(token, "POST", "/v1/me/data-requests", json={"kind": "deletion"})
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]

    async def ready() -> dict[str, Any] | None:
        got = await journey.me(token, "GET", f"/v1/me/data-requests/{request_id}")
        body: dict[str, Any] = got.json()
        return body if body["status"] == "ready" else None

    answer = await eventually(ready, within=60, interval=0.5)
    by_service = {a["service"]: a["retention"] for a in answer["answers"]}
    assert set(by_service) == {"intake", *DATA_HOLDERS}
    for service in ("intake", "notifier", "agency_gateway"):
        erased = [item for item in by_service[service] if item["erased"]]
        assert erased, f"{service} erased nothing of a closed loan"
    kept = [item for items in by_service.values() for item in items if not item["erased"]]
    assert kept
    for item in kept:
        assert item["legal_basis"], item
    assert any(item["legal_basis"].startswith("CN-08") and item["kept_until"] for item in kept)

    # Every table of every service: the borrower's name, phone and e-mail rest nowhere in
    # plaintext, and a sealed value of the erased loan rests only where it is said to stay.
    plaintext = [
        found
        for database, url in urls.items()
        for found in await scan(database, url, [borrower.name, borrower.phone, borrower.email])
    ]
    assert plaintext == []
    sealed = await sealed_values_of(urls, borrower.loan_id)
    assert sealed <= STAYS_SEALED, sealed - STAYS_SEALED


async def test_a_tampered_revoked_or_unknown_link_gives_nothing_away(journey: Journey) -> None:
    borrower = await journey.report(days=50)
    token = await journey.link(borrower)
    last = token[-1]
    tampered = token[:-1] + ("A" if last != "A" else "B")
    async with httpx.AsyncClient() as client:
        good = await client.get(f"{journey.site}/b/{token}")
        bad = await client.get(f"{journey.site}/b/{tampered}")
        unknown = await client.get(f"{journey.site}/b/b1.l1.nothing")
        revoked = await client.post(
            journey.intake(f"/v1/loans/{borrower.loan_id}/borrower-links/revocation"),
            headers=journey.platform.lender(),
        )
        assert revoked.status_code == 204
        gone = await client.get(f"{journey.site}/b/{token}")
    assert good.status_code == 200
    assert (bad.status_code, unknown.status_code, gone.status_code) == (404, 404, 410)
    assert bad.text == unknown.text == gone.text
    assert borrower.loan_id not in bad.text + gone.text
    assert (await journey.me(tampered, "GET", "/v1/me")).status_code == 401
    assert (await journey.me(token, "GET", "/v1/me")).status_code == 410


async def test_no_process_logged_a_token(journey: Journey) -> None:
    """Last in the module: every token the journey followed, against every process's log."""
    assert journey.tokens
    logs = sorted(journey.logs.glob("*.log"))
    assert any("borrower" in log.name for log in logs)
    for log in logs:
        written = log.read_text(encoding="utf-8", errors="replace")
        for token in journey.tokens:
            assert token not in written, log.name
            assert token.split(".")[2] not in written, log.name
