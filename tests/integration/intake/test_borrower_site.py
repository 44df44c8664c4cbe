"""The borrowers' site (``create_borrower_app`` with the real desk) on real PostgreSQL and
Kafka, beside the platform's intake on the same database: a loan reported through intake's
lender API, a link minted with the platform's link keys, and the borrower's page and
``/v1/me`` doing what the issue says, with no token in any log."""

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager

from deploy.devstack.platform import SERVICES, service_options
from services.intake.settings import IntakeSettings
from services.intake.wiring import create_borrower_app
from shared.borrower_links import BorrowerLinks
from tests.harness import RunningPlatform, eventually
from tests.integration.intake.support import assert_problem, intake_sealing
from tests.support.factories import VALID_REPORT, new_loan_id, report

INTAKE = next(s for s in SERVICES if s.name == "intake")
ORIGIN = "http://127.0.0.1:8005"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
async def site(platform: RunningPlatform) -> AsyncIterator[httpx.AsyncClient]:
    """The site as ``python -m services.intake borrower`` builds it, with intake's settings."""
    options = service_options(
        INTAKE,
        platform.database_urls["intake"],
        platform.runtime("intake").settings.kafka_bootstrap_servers,
        platform.secrets,
        platform.namespace,
    )
    app = create_borrower_app(IntakeSettings(**options, borrower_base_url=ORIGIN))
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            yield client


@pytest.fixture
def links(platform: RunningPlatform) -> BorrowerLinks:
    settings = platform.runtime("intake").settings
    assert isinstance(settings, IntakeSettings)
    return settings.borrower_links()


BORROWER = VALID_REPORT["borrower"]["id"]


async def reported_loan(platform: RunningPlatform, borrower: str = BORROWER) -> str:
    loan_id = new_loan_id()
    body = report(loan_id)
    body["borrower"] = {**body["borrower"], "id": borrower}
    response = await platform.clients["intake"].post(
        "/v1/overdue-loans", json=body, headers=platform.as_lender()
    )
    assert response.status_code == 202, response.text
    return loan_id


def mint(
    platform: RunningPlatform,
    links: BorrowerLinks,
    loan_id: str,
    now: datetime | None = None,
    borrower: str = BORROWER,
) -> str:
    lender = platform.credentials.lender["id"]
    reference = intake_sealing(platform.runtime("intake")).reference(lender, borrower)
    return links.mint(lender, loan_id, reference, now=now)


@pytest.fixture
async def token(platform: RunningPlatform, links: BorrowerLinks) -> str:
    return mint(platform, links, await reported_loan(platform))


async def test_the_page_shows_the_reported_loan_in_the_borrowers_language(
    site: httpx.AsyncClient, token: str
) -> None:
    response = await site.get(f"/b/{token}")
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.text
    assert "您在Demo Consumer Finance的账户" in response.text
    assert "¥1,250.00" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_dispute_from_me_holds_the_loan_the_lender_sees(
    platform: RunningPlatform, site: httpx.AsyncClient, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    me = (await site.get("/v1/me", headers=auth)).json()
    assert me["amount_overdue"] == {"amount": "1250.00", "currency": "CNY"}
    assert me["held_by"] is None
    filed = await site.post("/v1/me/disputes", json={"reason": "not_mine"}, headers=auth)
    assert filed.status_code == 201, filed.text
    dispute = filed.json()
    assert dispute["status"] == "open"
    loan = (
        await platform.clients["intake"].get(
            f"/v1/loans/{me['loan_id']}", headers=platform.as_lender()
        )
    ).json()
    assert loan["on_hold"] is True
    assert f"dispute:{dispute['dispute_id']}" in {hold["hold_id"] for hold in loan["holds"]}
    (listed,) = (await site.get("/v1/me", headers=auth)).json()["disputes"]
    assert listed["dispute_id"] == dispute["dispute_id"]
    assert listed["status"] == "open"


async def test_the_page_forms_change_preferences_and_ask_for_data(
    site: httpx.AsyncClient, token: str
) -> None:
    page = (await site.get(f"/b/{token}")).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    csrf = match.group(1)
    form = f"csrf={csrf}&opted_out=phone_call&start_1=21:00&end_1=08:00&days_1=all"
    saved = await site.post(f"/b/{token}/preferences", content=form, headers=FORM)
    assert saved.status_code == 303, saved.text
    auth = {"Authorization": f"Bearer {token}"}
    preferences = (await site.get("/v1/me", headers=auth)).json()["preferences"]
    assert preferences["opted_out_channels"] == ["phone_call"]
    assert preferences["inconvenient_times"][0]["start"] == "21:00:00"
    asked = await site.post(
        f"/b/{token}/data-requests", content=f"csrf={csrf}&kind=access", headers=FORM
    )
    assert asked.status_code == 303
    assert "/data-requests/" in asked.headers["location"]
    shown = await site.get(asked.headers["location"])
    assert shown.status_code == 200
    assert "您的请求已收到" in shown.text


async def test_a_data_request_is_pending_with_its_due_date_and_no_one_elses(
    platform: RunningPlatform, site: httpx.AsyncClient, links: BorrowerLinks, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = await site.post("/v1/me/data-requests", json={"kind": "access"}, headers=auth)
    assert response.status_code == 202, response.text
    asked = response.json()
    assert asked["status"] == "pending"
    assert datetime.fromisoformat(asked["due_by"]) > datetime.now(UTC) + timedelta(days=1)
    mine = await site.get(f"/v1/me/data-requests/{asked['request_id']}", headers=auth)
    assert mine.status_code == 200
    someone_else = f"B-{uuid4().hex[:10]}"
    their_loan = await reported_loan(platform, someone_else)
    other = {"Authorization": f"Bearer {mint(platform, links, their_loan, borrower=someone_else)}"}
    assert_problem(
        await site.get(f"/v1/me/data-requests/{asked['request_id']}", headers=other), 404
    )


async def test_refused_links_get_the_same_neutral_page(
    platform: RunningPlatform, site: httpx.AsyncClient, links: BorrowerLinks, token: str
) -> None:
    index = len(token) - 3
    tampered = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
    loan_id = await reported_loan(platform)
    expired = mint(platform, links, loan_id, now=datetime.now(UTC) - timedelta(days=40))
    unknown = mint(platform, links, new_loan_id())
    answers = [await site.get(f"/b/{t}") for t in (tampered, unknown, expired)]
    assert [r.status_code for r in answers] == [404, 404, 410]
    assert len({r.text for r in answers}) == 1
    assert "Demo Consumer Finance" not in answers[0].text
    assert_problem(await site.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}), 410)


async def test_one_click_unsubscribe_opts_out_of_email(site: httpx.AsyncClient, token: str) -> None:
    response = await site.post(
        f"/b/{token}/unsubscribe",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    auth = {"Authorization": f"Bearer {token}"}

    async def opted_out() -> bool:
        me = (await site.get("/v1/me", headers=auth)).json()
        return "email" in me["preferences"]["opted_out_channels"]

    assert await eventually(opted_out, within=10)


async def test_no_token_in_any_log_over_a_visit(
    site: httpx.AsyncClient,
    token: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="httpx")  # the test's client logs its URLs
    auth = {"Authorization": f"Bearer {token}"}
    await site.get(f"/b/{token}")
    await site.get("/v1/me", headers=auth)
    await site.post("/v1/me/disputes", json={"reason": "nope"}, headers=auth)
    await site.post(f"/b/{token}/disputes", content="reason=other", headers=FORM)
    await site.get(f"/v1/me/data-requests/{token}", headers=auth)
    await site.get(f"/b/{token[:-2]}xx")
    sealed = token.rsplit(".", 1)[1][:16]
    assert not [r for r in caplog.records if sealed in r.getMessage() or sealed in str(r.args)]
    printed = capsys.readouterr()
    assert sealed not in printed.out
    assert sealed not in printed.err
