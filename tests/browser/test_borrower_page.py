"""A borrower's visit in a real browser, JavaScript off, in each locale: open the page from
the link, file a dispute, change contact preferences, request their data; a tampered link
shows the neutral page; an access request becomes ready with what each service holds.
Screenshots of each step go to artifacts/screenshots/."""

import asyncio
import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Shots, Site

pytestmark = pytest.mark.browser

WORDS = {
    "zh-CN": {
        "heading": "您在Demo Consumer Finance的账户",
        "holder": "谁在处理您的账户",
        "dispute": "提交异议",
        "disputed": "您的异议已提交",
        "reason": "这不是我的欠款",
        "prefs": "保存偏好",
        "saved": "您的偏好已保存",
        "sms": "短信",
        "data": "提交请求",
        "access": "查阅我的个人信息",
        "received": "您的请求已收到",
        "from": "从",
        "to": "至",
        "details": "详细说明（选填）",
        "neutral": "无法打开此链接",
        "ready": "已完成",
        "intake": "债权方报告的贷款信息",
        "notifier": "发送给您的通知",
        "agency_gateway": "催收机构",
        "compliance": "合规审计记录",
    },
    "en": {
        "heading": "Your account with Demo Consumer Finance",
        "holder": "Who holds your account",
        "dispute": "File the dispute",
        "disputed": "Your dispute was filed",
        "reason": "This is not my debt",
        "prefs": "Save preferences",
        "saved": "Your preferences were saved",
        "sms": "SMS",
        "data": "Send the request",
        "access": "See my personal information",
        "received": "Your request was received",
        "from": "From",
        "to": "To",
        "details": "Details (optional)",
        "neutral": "This link cannot be opened",
        "ready": "ready",
        "intake": "Your loan, as the lender reported it",
        "notifier": "Messages sent to you",
        "agency_gateway": "Collection agencies",
        "compliance": "Audit log",
    },
}


async def open_link(context: BrowserContext, link: str) -> Page:
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None
    assert response.status == 200
    return page


async def test_the_link_opens_the_page(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    page = await open_link(context, await site.new_link())
    words = WORDS[locale]
    assert await page.get_attribute("html", "lang") == locale
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["heading"])
    holder = page.get_by_role("region", name=words["holder"])
    await expect(holder).to_contain_text("Demo Consumer Finance")  # the lender, or its agency
    # The inline style applied under the CSP (by its hash): the page is laid out for a phone.
    width = await page.locator("body").evaluate("b => getComputedStyle(b).maxWidth")
    assert width == "640px"
    await shots.take(page, "page")


async def test_a_dispute_filed_from_the_page(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    page = await open_link(context, await site.new_link())
    words = WORDS[locale]
    await page.get_by_label(re.compile("^(原因|Reason)$")).select_option(label=words["reason"])
    await page.get_by_label(words["details"]).fill("I never borrowed from them")
    await page.get_by_role("button", name=words["dispute"]).click()
    await expect(page.get_by_role("status")).to_contain_text(words["disputed"])
    await expect(page.locator("#disputes ~ ul li").first).to_contain_text(words["reason"])
    assert "done=dispute" in page.url
    await shots.take(page, "disputed")


async def test_contact_preferences_changed_from_the_page(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    page = await open_link(context, await site.new_link())
    words = WORDS[locale]
    await page.get_by_label(words["sms"], exact=True).check()
    await page.locator("#start-1").fill("12:00")
    await page.locator("#end-1").fill("14:00")
    await page.get_by_role("button", name=words["prefs"]).click()
    await expect(page.get_by_role("status")).to_contain_text(words["saved"])
    await expect(page.get_by_label(words["sms"], exact=True)).to_be_checked()
    await expect(page.locator("#start-1")).to_have_value("12:00")
    await shots.take(page, "preferences")


async def test_a_data_request_from_the_page(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    page = await open_link(context, await site.new_link())
    words = WORDS[locale]
    await page.get_by_label(words["access"]).check()
    await page.get_by_role("button", name=words["data"]).click()
    await expect(page.get_by_role("status")).to_contain_text(words["received"])
    assert "/data-requests/" in page.url
    await shots.take(page, "data-request")


async def test_a_tampered_link_shows_the_neutral_page(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    link = await site.new_link()
    index = len(link) - 4
    tampered = link[:index] + ("A" if link[index] != "A" else "B") + link[index + 1 :]
    page = await context.new_page()
    response = await page.goto(tampered)
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text(WORDS[locale]["neutral"])
    assert "Demo Consumer Finance" not in await page.content()
    await shots.take(page, "neutral")


async def test_an_access_request_becomes_ready_with_what_each_service_holds(
    site: Site, context: BrowserContext, locale: str, shots: Shots
) -> None:
    page = await open_link(context, await site.new_link())
    words = WORDS[locale]
    await page.get_by_label(words["access"]).check()
    await page.get_by_role("button", name=words["data"]).click()
    for _ in range(120):  # intake, the notifier, the gateway and compliance answer
        if words["ready"] in await page.locator("dd").last.inner_text():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.locator("dd").last).to_have_text(words["ready"])
    for service in ("intake", "notifier", "agency_gateway", "compliance"):
        await expect(page.get_by_role("heading", name=words[service], level=2)).to_be_visible()
    await expect(page.get_by_text("+86139").first).to_be_visible()  # their phone, opened for them
    await shots.take(page, "data-ready")
