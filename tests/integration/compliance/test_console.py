"""The console on the real platform (Kafka and PostgreSQL): every page refuses a request with no
session (to the sign-in form), admits the same keys with the same scoping as the JSON API
(another lender's loan is a 404, an auditor out of scope gets 404, an auditor of every lender
names the lender), stops admitting a revoked key, refuses forms not from its own page (CSRF),
keeps the key out of its cookie, and sends its security headers on every answer."""

import base64
import io
import re
import zipfile
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from shared.auth import Role
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.console_support import (
    CSRF,
    LoggedLoan,
    console_client,
    logged_loan,
    sign_in,
)

PAGES = ("/console/", "/console/violations", "/console/reports/agencies", "/console/checkpoint")


@pytest.fixture(scope="module")
async def loans(platform: RunningPlatform) -> dict[str, LoggedLoan]:
    """A loan of the demo lender and one of another lender, each with violations."""
    other = await platform.issue(Role.LENDER, f"lender-console-{uuid4().hex[:6]}", "console")
    demo = platform.credentials.lender
    return {
        "demo": await logged_loan(platform, demo["id"], demo["api_key"]),
        "other": await logged_loan(platform, other.tenant, other.api_key),
    }


@pytest.fixture
async def client(platform: RunningPlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(platform) as fresh:
        yield fresh


def loan_pages(loan: LoggedLoan, lender: bool = False) -> list[str]:
    query = "" if lender else f"?lender_id={loan.lender_id}"
    return [
        f"/console/loans/{loan.loan_id}{query}",
        f"/console/loans/{loan.loan_id}/evidence{query}",
    ]


async def test_without_a_session_every_page_sends_to_the_sign_in_form(
    client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    for path in (*PAGES, *loan_pages(loans["demo"])):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/sign-in?next="), path
    for path in (
        "/console/api/entries/0",
        "/console/api/proofs/inclusion?leaf_index=0&tree_size=1",
    ):
        assert (await client.get(path)).status_code == 401, path
    # A cookie that is not one the console sealed is no session.
    client.cookies.set("console_session", base64.urlsafe_b64encode(b"x" * 60).decode())
    forged = await client.get("/console/")
    assert forged.status_code == 303
    assert 'console_session=""' in forged.headers.get("set-cookie", "")  # cleared


async def test_an_auditor_sees_its_lenders_pages_and_nothing_of_another(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    signed = await sign_in(client, platform.credentials.auditor["api_key"])
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/console/"
    demo, other = loans["demo"], loans["other"]
    for path in PAGES:
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
    timeline = await client.get(f"/console/loans/{demo.loan_id}")
    assert timeline.status_code == 200
    assert "collections.loan.overdue-reported" in timeline.text
    assert "collections.agency.activity-recorded" in timeline.text
    assert f"/console/loans/{demo.loan_id}/evidence" in timeline.text
    bundle = await client.get(f"/console/loans/{demo.loan_id}/evidence")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "application/zip"
    assert "statement.pdf" in zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    violations = await client.get("/console/violations", params={"loan_id": demo.loan_id})
    assert "CN-01 on loan" in violations.text
    assert "CN-09 on loan" in violations.text
    # Each violation's evidence table lists the entries it cites (the call among them).
    assert "Evidence of CN-01" in violations.text
    assert violations.text.count("collections.agency.activity-recorded") >= 2
    report = await client.get("/console/reports/agencies")
    assert demo.agency_id in report.text
    assert other.agency_id not in report.text
    # Filters: rule and agency; the report's period in UTC days (the calls were on 2026-11-02).
    by_rule = await client.get("/console/violations", params={"rule_id": "CN-09", "status": "all"})
    assert f"CN-09 on loan {demo.loan_id}" in by_rule.text
    assert "CN-01 on loan" not in by_rule.text
    by_agency = await client.get("/console/violations", params={"agency_id": "agency-none"})
    assert demo.loan_id not in by_agency.text
    that_day = await client.get(
        "/console/reports/agencies", params={"from": "2026-11-02", "to": "2026-11-03"}
    )
    assert demo.agency_id in that_day.text
    later = await client.get(
        "/console/reports/agencies", params={"from": "2026-11-03", "to": "2026-11-04"}
    )
    assert demo.agency_id not in later.text
    assert "/console/checkpoint?leaf_index=" in timeline.text  # each row links to its check
    # Out of scope: another lender named, or that lender's loan under this one, is a 404.
    for path in loan_pages(other):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get(f"/console/loans/{other.loan_id}")).status_code == 404
    named = await client.get("/console/violations", params={"lender_id": other.lender_id})
    assert named.status_code == 404
    named_report = await client.get(
        "/console/reports/agencies", params={"lender_id": other.lender_id}
    )
    assert named_report.status_code == 404


async def test_a_lender_sees_its_own_loans_only(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    assert (await sign_in(client, platform.credentials.lender["api_key"])).status_code == 303
    demo, other = loans["demo"], loans["other"]
    for path in loan_pages(demo, lender=True):
        assert (await client.get(path)).status_code == 200, path
    for path in loan_pages(other):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get(f"/console/loans/{other.loan_id}")).status_code == 404
    violations = await client.get("/console/violations")
    assert demo.loan_id in violations.text
    assert other.loan_id not in violations.text
    report = await client.get("/console/reports/agencies")
    assert demo.agency_id in report.text
    assert other.agency_id not in report.text
    named = await client.get("/console/reports/agencies", params={"lender_id": other.lender_id})
    assert named.status_code == 404


async def test_an_auditor_of_every_lender_names_the_lender(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    assert (await sign_in(client, platform.every_lender_auditor.api_key)).status_code == 303
    other = loans["other"]
    unnamed = await client.get(f"/console/loans/{other.loan_id}")
    assert unnamed.status_code == 422
    assert "query.lender_id" in unnamed.text
    for path in loan_pages(other):
        assert (await client.get(path)).status_code == 200, path
    report = await client.get("/console/reports/agencies")
    assert loans["demo"].agency_id in report.text
    assert other.agency_id in report.text


async def test_keys_of_other_roles_and_unknown_keys_cannot_sign_in(
    platform: RunningPlatform, client: httpx.AsyncClient
) -> None:
    operator = await platform.issue(Role.OPERATOR, f"op-{uuid4().hex[:6]}", "console")
    agency = platform.credentials.agencies[0]["api_key"]
    for key in (operator.api_key, agency, "ck_nope.nothing", ""):
        refused = await sign_in(client, key)
        assert refused.status_code == 401, key
        assert "unknown or revoked" in refused.text
        assert "console_session" not in client.cookies
        assert (await client.get("/console/")).status_code == 303


async def test_a_revoked_key_stops_working(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    issued = await platform.issue(Role.AUDITOR, platform.credentials.lender["id"], "console")
    assert (await sign_in(client, issued.api_key)).status_code == 303
    assert (await client.get("/console/violations")).status_code == 200
    assert await platform.revoke(issued.key_id)

    async def refused() -> bool:
        response = await client.get("/console/violations")
        return response.status_code == 303 and "/console/sign-in" in response.headers["location"]

    await eventually(refused, within=30)  # the registry record reaches the authenticator
    assert (await client.get("/console/api/entries/0")).status_code == 401
    again = await sign_in(client, issued.api_key)  # nor can it sign in again
    assert again.status_code == 401


async def test_the_session_cookie_holds_no_key_and_is_strict(
    platform: RunningPlatform, loans: dict[str, LoggedLoan]
) -> None:
    key = platform.credentials.auditor["api_key"]
    for scheme, secure in (("http", False), ("https", True)):
        async with console_client(platform, scheme) as client:
            signed = await sign_in(client, key)
            cookies = signed.headers.get_list("set-cookie")
            (session,) = [c for c in cookies if c.startswith("console_session=")]
            value = session.split(";")[0].split("=", 1)[1]
            attributes = {a.strip().lower() for a in session.split(";")[1:]}
            assert "httponly" in attributes
            assert "samesite=strict" in attributes
            assert "path=/console" in attributes
            assert ("secure" in attributes) is secure
            assert key not in value
            assert key.split(".")[-1] not in value
            assert base64.b64encode(key.encode()).decode()[:20] not in value


async def test_forms_not_from_the_console_are_refused(
    platform: RunningPlatform, client: httpx.AsyncClient
) -> None:
    key = platform.credentials.auditor["api_key"]
    page = await client.get("/console/sign-in")
    match = CSRF.search(page.text)
    assert match is not None
    token = match.group(1)
    attempts = [
        ({"api_key": key}, {}),  # no CSRF token
        ({"api_key": key, "csrf": token + "x"}, {}),  # a wrong one
        ({"api_key": key, "csrf": token}, {"Origin": "https://evil.example"}),
        ({"api_key": key, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for data, headers in attempts:
        refused = await client.post("/console/sign-in", data=data, headers=headers)
        assert refused.status_code == 403, (data, headers)
        assert "console_session" not in client.cookies
    as_json = await client.post("/console/sign-in", json={"api_key": key, "csrf": token})
    assert as_json.status_code == 403
    # Another sign-in form's token (bound to that form's own cookie) does not fit this one.
    async with console_client(platform) as stranger:
        theirs = CSRF.search((await stranger.get("/console/sign-in")).text)
        assert theirs is not None
    crossed = await client.post("/console/sign-in", data={"api_key": key, "csrf": theirs.group(1)})
    assert crossed.status_code == 403

    assert (await sign_in(client, key)).status_code == 303
    assert (await client.post("/console/sign-out", data={})).status_code == 403
    assert (await client.get("/console/")).status_code == 200  # still signed in
    home = await client.get("/console/")
    out = CSRF.search(home.text)
    assert out is not None
    signed_out = await client.post("/console/sign-out", data={"csrf": out.group(1)})
    assert signed_out.status_code == 303
    assert (await client.get("/console/")).status_code == 303


async def test_every_answer_carries_the_security_headers(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    answers = [await client.get("/console/sign-in"), await client.get("/console/")]
    await sign_in(client, platform.credentials.auditor["api_key"])
    for path in (*PAGES, *loan_pages(loans["demo"], lender=True), "/console/static/proof.js"):
        answers.append(await client.get(path))
    answers.append(await client.get(loan_pages(loans["other"])[0]))  # a 404 page too
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    pages = [a for a in answers if a.headers.get("content-type", "").startswith("text/html")]
    for page in pages:  # no inline script or style: the CSP would refuse it
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert "<style" not in page.text
        assert " style=" not in page.text


async def test_the_inclusion_check_reads_entries_in_scope_and_the_apis_proof(
    platform: RunningPlatform, client: httpx.AsyncClient, loans: dict[str, LoggedLoan]
) -> None:
    auditor = platform.as_auditor_of_every_lender()
    compliance = platform.clients["compliance"]
    ours, theirs = [
        (
            await compliance.get(
                f"/v1/loans/{loan.loan_id}/timeline",
                params={"lender_id": loan.lender_id},
                headers=auditor,
            )
        ).json()["entries"][0]
        for loan in (loans["demo"], loans["other"])
    ]
    await sign_in(client, platform.credentials.auditor["api_key"])
    entry = await client.get(f"/console/api/entries/{ours['leaf_index']}")
    assert entry.status_code == 200
    assert entry.json()["canonical"] == ours["canonical"]
    assert (await client.get(f"/console/api/entries/{theirs['leaf_index']}")).status_code == 404
    size = (await compliance.get("/v1/audit/checkpoint", headers=auditor)).json()["tree_size"]
    query = {"leaf_index": ours["leaf_index"], "tree_size": size}
    console = await client.get("/console/api/proofs/inclusion", params=query)
    api = await compliance.get("/v1/audit/proofs/inclusion", params=query, headers=auditor)
    assert console.status_code == 200
    assert console.json()["hashes"] == api.json()["hashes"]
    described = await platform.clients["compliance"].get("/openapi.json")
    assert not [path for path in described.json()["paths"] if path.startswith("/console")]
    too_big = await client.get(
        "/console/api/proofs/inclusion", params={"leaf_index": 0, "tree_size": size + 10**6}
    )
    assert too_big.status_code == 422
