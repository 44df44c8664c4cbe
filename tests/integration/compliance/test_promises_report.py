"""Promises kept, broken and pending in the per-agency report: the agency gateway's promises
(published as it publishes them) judged on the lender's payments reported to intake."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

from shared.auth import Role
from shared.events.catalog import PROMISE_RECORDED
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.events import promised, publish
from tests.support.factories import new_loan_id, payment, report


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid4())}


def midnight(day: date) -> str:
    return datetime.combine(day, time(), UTC).isoformat()


async def agency_report(
    platform: RunningPlatform, headers: dict[str, str], agency_id: str, **params: Any
) -> dict[str, Any] | None:
    response = await platform.clients["compliance"].get(
        "/v1/reports/agencies", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    return next((a for a in response.json()["agencies"] if a["agency_id"] == agency_id), None)


async def test_an_agencys_promises_are_reported_kept_broken_and_pending(
    platform: RunningPlatform,
) -> None:
    run = uuid4().hex[:8]
    lender = await platform.issue(Role.LENDER, f"lender-promises-{run}", "promises test")
    auditor = await platform.issue(Role.AUDITOR, lender.tenant, "promises test")
    as_auditor = bearer(auditor.api_key)
    agency, loan_id = f"agency-promises-{run}", new_loan_id()
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=report(loan_id), headers=bearer(lender.api_key)
    )
    assert posted.status_code == 202, posted.text

    now = datetime.now(UTC)
    today, made = now.date(), now - timedelta(days=10)
    runtime = platform.runtime("compliance")
    for promise_id, amount, due in (
        ("PR-kept", "100.00", today + timedelta(days=5)),  # the payment below covers it
        ("PR-pending", "500.00", today + timedelta(days=10)),  # not covered, not due yet
        ("PR-broken", "100.00", today - timedelta(days=2)),  # due before the payment came
    ):
        data = promised(loan_id, agency, promise_id, amount, due, made)
        await publish(runtime, PROMISE_RECORDED, lender.tenant, loan_id, data)
    paid = await platform.clients["intake"].post(
        f"/v1/loans/{loan_id}/payments",
        json=payment("P-1", "100.00", paid_at=(now - timedelta(hours=1)).isoformat()),
        headers=bearer(lender.api_key),
    )
    assert paid.status_code == 202, paid.text

    period = {
        "from": midnight(today - timedelta(days=3)),
        "to": midnight(today + timedelta(days=30)),
    }

    async def all_three_judged() -> dict[str, int] | None:
        found = await agency_report(platform, as_auditor, agency, **period)
        promises: dict[str, int] | None = found and found["promises"]
        judged = promises and promises["kept"] == 1 and sum(promises.values()) == 3
        return promises if judged else None

    assert await eventually(all_three_judged, within=60) == {"kept": 1, "broken": 1, "pending": 1}

    since_today = await agency_report(
        platform, as_auditor, agency, **{**period, "from": midnight(today)}
    )
    assert since_today is not None
    assert since_today["promises"] == {"kept": 1, "broken": 0, "pending": 1}
    this_week = await agency_report(
        platform, as_auditor, agency, **{**period, "to": midnight(today + timedelta(days=6))}
    )
    assert this_week is not None
    assert this_week["promises"] == {"kept": 1, "broken": 1, "pending": 0}
    before = await agency_report(
        platform, as_auditor, agency, to=midnight(today - timedelta(days=5))
    )
    assert before is None  # no promise of the agency fell due then, nor any contact

    everyone = bearer(platform.every_lender_auditor.api_key)
    named = await agency_report(platform, everyone, agency, lender_id=lender.tenant, **period)
    assert named is not None
    assert named["promises"] == {"kept": 1, "broken": 1, "pending": 1}
    other_lender = platform.as_auditor()  # the demo auditor: the demo lender's
    assert await agency_report(platform, other_lender, agency, **period) is None
    refused = await platform.clients["compliance"].get(
        "/v1/reports/agencies", params={"lender_id": lender.tenant}, headers=other_lender
    )
    assert refused.status_code == 404
