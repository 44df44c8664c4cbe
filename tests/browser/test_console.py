"""The console in a real browser (headless Chromium, JavaScript on, under its strict CSP), served
by compliance's own app under uvicorn on the real platform: sign in with an API key, every page
(home, a loan's timeline and its evidence bundle, violations with their evidence, the agencies
report with its charts, the checkpoint), the in-browser inclusion check verifying an entry and
refusing a tampered proof or entry, and the keyboard. Each page passes basic accessibility
checks (one h1, every field labelled, every table captioned, landmarks, charts titled) and the
browser reports no CSP violation. Screenshots go to artifacts/screenshots/."""

import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import Shots, serving
from tests.harness import RunningPlatform
from tests.integration.compliance.console_support import LoggedLoan, logged_loan

pytestmark = pytest.mark.browser

A11Y_CHECKS = """() => {
  const problems = [];
  const h1 = document.querySelectorAll("h1");
  if (h1.length !== 1) problems.push(`${h1.length} h1 elements`);
  if (!document.documentElement.lang) problems.push("no lang on html");
  if (!document.title.trim()) problems.push("no title");
  if (document.querySelectorAll("main").length !== 1) problems.push("not one main landmark");
  if (!document.querySelector("body > header")) problems.push("no banner landmark");
  for (const field of document.querySelectorAll("input, select, textarea")) {
    if (field.type === "hidden") continue;
    const named = (field.labels && field.labels.length) || field.getAttribute("aria-label");
    if (!named) problems.push(`unlabelled field ${field.name}`);
  }
  for (const table of document.querySelectorAll("table")) {
    const caption = table.querySelector("caption");
    if (!caption || !caption.textContent.trim()) problems.push("a table without a caption");
    if (!table.querySelector("th")) problems.push("a table without header cells");
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.getAttribute("role") !== "img") problems.push("an svg without role=img");
    if (!svg.querySelector("title") || !svg.querySelector("desc")) {
      problems.push("an svg without title and desc");
    }
  }
  for (const button of document.querySelectorAll("button, a")) {
    const name = button.getAttribute("aria-label") || button.textContent.trim();
    if (!name) problems.push("a button or link without a name");
  }
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  if (new Set(ids).size !== ids.length) problems.push("duplicate ids");
  return problems;
}"""


@pytest.fixture(scope="session")
async def console(platform: RunningPlatform) -> AsyncIterator[str]:
    """Compliance's app (the platform's, with its consumers running) under uvicorn."""
    async with serving(platform.apps["compliance"]) as url:
        yield f"{url}/console"


@pytest.fixture(scope="session")
async def loan(platform: RunningPlatform) -> LoggedLoan:
    demo = platform.credentials.lender
    return await logged_loan(platform, demo["id"], demo["api_key"])


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh context per test (no cookie of another), JavaScript on."""
    fresh = await browser.new_context(locale="en", viewport={"width": 1280, "height": 900})
    try:
        yield fresh
    finally:
        await fresh.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(f"console-{request.node.originalname.removeprefix('test_')}", "en")


async def checked(page: Page) -> None:
    """The page passes the basic accessibility checks and the browser saw no CSP violation."""
    problems = await page.evaluate(A11Y_CHECKS)
    assert problems == [], f"{page.url}: {problems}"
    violations = [m for m in getattr(page, "csp_messages", []) if "Content Security Policy" in m]
    assert violations == [], violations


async def new_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.csp_messages = messages  # type: ignore[attr-defined]
    return page


async def signed_in(context: BrowserContext, console: str, api_key: str) -> Page:
    page = await new_page(context)
    await page.goto(f"{console}/")
    assert "/console/sign-in" in page.url
    await page.get_by_label("API key").fill(api_key)
    await page.get_by_label("API key").press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Console")
    return page


async def test_sign_in_and_out(
    platform: RunningPlatform, console: str, context: BrowserContext, shots: Shots
) -> None:
    page = await new_page(context)
    await page.goto(f"{console}/violations")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    await checked(page)
    await shots.take(page, "sign-in")
    await page.get_by_label("API key").fill("ck_wrong_key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    await checked(page)
    await shots.take(page, "refused")
    await page.get_by_label("API key").fill(platform.credentials.auditor["api_key"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Violations")  # where it was
    (cookie,) = [c for c in await context.cookies() if c["name"] == "console_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert platform.credentials.auditor["api_key"] not in cookie["value"]
    assert await page.evaluate("document.cookie") == ""  # no script can read it
    await page.get_by_role("link", name="Home").click()
    await expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    await checked(page)
    await shots.take(page, "home")
    missing = await page.goto(f"{console}/loans/L-not-logged-here")
    assert missing is not None
    assert missing.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    await checked(page)
    await shots.take(page, "not-found")
    await page.get_by_role("link", name="Back to the console").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    await page.goto(f"{console}/")
    assert "/console/sign-in" in page.url


async def test_a_loans_timeline_and_its_evidence_bundle(
    platform: RunningPlatform,
    console: str,
    loan: LoggedLoan,
    context: BrowserContext,
    shots: Shots,
    tmp_path: Path,
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    await page.get_by_label("Loan id").fill(loan.loan_id)
    await page.get_by_role("button", name="Show the timeline").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Loan {loan.loan_id}")
    table = page.get_by_role(
        "table", name=re.compile(f"Everything the log holds of loan {loan.loan_id}")
    )
    await expect(table).to_be_visible()
    for kind in ("Report", "Placement", "Contact", "Promise", "Violation"):
        await expect(table.get_by_text(kind, exact=True).first).to_be_visible()
    await checked(page)
    await shots.take(page, "timeline")
    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download the evidence bundle").click()
    download = await started.value
    assert download.suggested_filename == f"evidence-{loan.loan_id}.zip"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    names = zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()
    assert names[0] == "statement.pdf"
    assert "proofs.json" in names


async def test_violations_with_their_evidence(
    platform: RunningPlatform,
    console: str,
    loan: LoggedLoan,
    context: BrowserContext,
    shots: Shots,
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    await page.get_by_role("link", name="Violations").first.click()
    await page.get_by_label("Loan id").fill(loan.loan_id)
    await page.get_by_label("Status").select_option("all")
    await page.get_by_role("button", name="Filter").click()
    section = page.get_by_role("region", name=f"CN-01 on loan {loan.loan_id}")
    await expect(section).to_be_visible()
    evidence = section.get_by_role("table", name=re.compile("Evidence of CN-01"))
    await expect(evidence.get_by_text("collections.agency.activity-recorded")).to_be_visible()
    await expect(evidence.get_by_text("collections.loan.overdue-reported")).to_be_visible()
    await checked(page)
    await shots.take(page, "violations")


async def test_the_agencies_report_with_its_charts(
    platform: RunningPlatform,
    console: str,
    loan: LoggedLoan,
    context: BrowserContext,
    shots: Shots,
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    await page.get_by_role("link", name="Agencies report").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Agencies report")
    row = page.get_by_role("table", name=re.compile("Per agency")).get_by_role(
        "row", name=re.compile(loan.agency_id)
    )
    await expect(row).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("^Contacts by agency"))
    await expect(chart).to_be_visible()
    beside = page.get_by_role("table", name=re.compile("Contacts by agency"))
    await expect(beside.get_by_role("row", name=re.compile(loan.agency_id))).to_be_visible()
    pending = page.get_by_role("table", name=re.compile("Promises due"))
    await expect(pending.get_by_role("row", name=f"{loan.agency_id} pending 1")).to_be_visible()
    bar = page.locator("#chart-contacts rect").first
    assert int(await bar.get_attribute("width") or "0") > 0
    await checked(page)
    await shots.take(page, "report")


async def first_entry(platform: RunningPlatform, loan: LoggedLoan) -> int:
    timeline = await platform.clients["compliance"].get(
        f"/v1/loans/{loan.loan_id}/timeline",
        params={"lender_id": loan.lender_id},
        headers=platform.as_auditor(),
    )
    index: int = timeline.json()["entries"][0]["leaf_index"]
    return index


async def test_the_checkpoint_and_an_inclusion_proof_checked_in_the_browser(
    platform: RunningPlatform,
    console: str,
    loan: LoggedLoan,
    context: BrowserContext,
    shots: Shots,
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    await page.get_by_role("link", name="Checkpoint").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Checkpoint")
    size = int(await page.locator("#tree-size").inner_text())
    assert size > 0
    await expect(page.locator("#root-hash")).to_have_text(re.compile("^[0-9a-f]{64}$"))
    await expect(page.locator("#age")).to_have_text(re.compile(r"\d+ (s|min|h)"))
    index = await first_entry(platform, loan)
    await page.get_by_label("Entry (leaf index)").fill(str(index))
    await page.get_by_role("button", name="Check inclusion").click()
    result = page.get_by_role("status")
    await expect(result).to_have_text(
        f"Verified: entry {index} is in the signed tree of {size} entries."
    )
    await checked(page)
    await shots.take(page, "verified")
    # From a timeline row's link, the entry is filled in.
    await page.goto(f"{console}/checkpoint?leaf_index={index}")
    await expect(page.get_by_label("Entry (leaf index)")).to_have_value(str(index))


async def tamper_proof(route: Route) -> None:
    response = await route.fetch()
    body = await response.json()
    first = body["hashes"][0]
    body["hashes"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    await route.fulfill(response=response, body=json.dumps(body))


async def tamper_entry(route: Route) -> None:
    response = await route.fetch()
    body = await response.json()
    body["canonical"] = body["canonical"][:-4] + (
        "AAAA" if body["canonical"][-4:] != "AAAA" else "BBBB"
    )
    await route.fulfill(response=response, body=json.dumps(body))


async def test_a_tampered_proof_or_entry_is_refused(
    platform: RunningPlatform,
    console: str,
    loan: LoggedLoan,
    context: BrowserContext,
    shots: Shots,
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    index = await first_entry(platform, loan)
    await page.route("**/console/api/proofs/inclusion?*", tamper_proof)
    await page.goto(f"{console}/checkpoint?leaf_index={index}")
    await page.get_by_role("button", name="Check inclusion").click()
    result = page.get_by_role("status")
    await expect(result).to_have_text(
        f"Refused: entry {index}: the proof does not lead to the signed root."
    )
    await expect(result).to_have_attribute("data-outcome", "refused")
    await shots.take(page, "tampered-proof")
    await page.unroute("**/console/api/proofs/inclusion?*")
    await page.route(f"**/console/api/entries/{index}", tamper_entry)
    await page.get_by_role("button", name="Check inclusion").click()
    await expect(result).to_have_text(
        f"Refused: entry {index}: the proof does not lead to the signed root."
    )
    await shots.take(page, "tampered-entry")
    await page.unroute(f"**/console/api/entries/{index}")
    await page.get_by_role("button", name="Check inclusion").click()
    await expect(result).to_have_attribute("data-outcome", "verified")


async def test_the_console_works_from_the_keyboard(
    platform: RunningPlatform, console: str, loan: LoggedLoan, context: BrowserContext
) -> None:
    page = await signed_in(context, console, platform.credentials.auditor["api_key"])
    await page.keyboard.press("Tab")  # the first stop skips to the content
    focused = page.locator(":focus")
    await expect(focused).to_have_text("Skip to the content")
    outline = await focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"  # the focus is visible
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.keyboard.press("Tab")
    await expect(page.locator(":focus")).to_have_attribute("id", "loan_id")
    await page.keyboard.type(loan.loan_id)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Loan {loan.loan_id}")
    # Tab order reaches every navigation link, then the sign-out button.
    await page.reload()  # from the top of the page again
    reached = []
    for _ in range(8):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.textContent.trim()"))
    for name in ("Home", "Violations", "Agencies report", "Checkpoint", "Sign out"):
        assert name in reached, reached
