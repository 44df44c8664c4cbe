"""What the console's tests share: a loan of a lender logged with a placement, an agency's
night call and a promise (so it has violations citing entries and a report), and signing in to
the console as a browser's form would."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import httpx

from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_PLACED, PROMISE_RECORDED
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.events import activity, placed, promised, publish
from tests.support.factories import new_loan_id, report

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class LoggedLoan:
    lender_id: str
    loan_id: str
    agency_id: str


async def logged_loan(platform: RunningPlatform, lender_id: str, lender_key: str) -> LoggedLoan:
    """A loan reported through intake, then placed with an agency that calls at night before
    the borrower was told of it (CN-01, CN-09) and records a promise; returns once compliance
    lists its violations."""
    loan_id = new_loan_id()
    agency_id = f"agency-{uuid4().hex[:6]}"
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=report(loan_id),
        headers={"Authorization": f"Bearer {lender_key}", "Idempotency-Key": str(uuid4())},
    )
    assert posted.status_code == 202, posted.text
    auditor = platform.as_auditor_of_every_lender()
    compliance = platform.clients["compliance"]

    async def borrower_ref() -> str | None:
        response = await compliance.get(
            f"/v1/loans/{loan_id}/timeline", params={"lender_id": lender_id}, headers=auditor
        )
        if response.status_code != 200:
            return None
        ref: str = response.json()["entries"][0]["entry"]["data"]["borrower"]["ref"]
        return ref

    ref = await eventually(borrower_ref, within=30)
    runtime = platform.runtime("compliance")
    night = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    await publish(runtime, ASSIGNMENT_PLACED, lender_id, loan_id, placed(loan_id, ref, agency_id))
    call = activity(loan_id, ref, agency_id, night)
    await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender_id, loan_id, call)
    due = datetime.now(UTC).date() + timedelta(days=3)
    promise = promised(loan_id, agency_id, f"PR-{uuid4().hex[:6]}", "100.00", due, night)
    await publish(runtime, PROMISE_RECORDED, lender_id, loan_id, promise)

    async def judged() -> bool:
        response = await compliance.get(
            "/v1/violations", params={"lender_id": lender_id, "loan_id": loan_id}, headers=auditor
        )
        promised_logged = await compliance.get(
            "/v1/audit/entries",
            params={"lender_id": lender_id, "loan_id": loan_id, "type": PROMISE_RECORDED.name},
            headers=auditor,
        )
        rules = {v["rule_id"] for v in response.json()["violations"]}
        return {"CN-01", "CN-09"} <= rules and bool(promised_logged.json()["entries"])

    await eventually(judged, within=60)
    return LoggedLoan(lender_id, loan_id, agency_id)


def today() -> date:
    return datetime.now(UTC).date()


async def sign_in(client: httpx.AsyncClient, api_key: str) -> httpx.Response:
    """The sign-in form fetched, then posted with its CSRF token (the client keeps cookies)."""
    page = await client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None
    return await client.post(
        "/console/sign-in",
        data={"csrf": match.group(1), "api_key": api_key, "next": "/console/"},
    )


def console_client(platform: RunningPlatform, scheme: str = "http") -> httpx.AsyncClient:
    """A client of compliance's app with a cookie jar of its own (the platform's clients are
    shared)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.apps["compliance"]),
        base_url=f"{scheme}://compliance",
    )
