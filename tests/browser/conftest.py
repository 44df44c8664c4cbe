"""Headless Chromium (Debian's ``chromium`` package, driven by Playwright from PyPI; no browser
download) against the borrowers' site served by uvicorn on a free port, on the real platform.

Each test gets a fresh browser context in its locale; screenshots go to
``artifacts/screenshots/`` (kept by CI as artefacts).
"""

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from deploy.devstack.platform import SERVICES, service_options
from deploy.local_providers.server import running_providers
from deploy.local_providers.server import serving as serve_receipts
from services.intake.settings import IntakeSettings
from services.intake.wiring import create_borrower_app
from tests.harness import eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import (
    Stack,
    emulator_config,
    free_port,
    notifier_settings,
)

CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LOCALES = ("zh-CN", "en")


@asynccontextmanager
async def serving(
    app: FastAPI, *, port: int = 0, lifespan: Literal["on", "off"] = "off"
) -> AsyncIterator[str]:
    """``app`` under uvicorn on ``port`` of 127.0.0.1 (0: a free one), in this event loop;
    yields its URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        for _ in range(600):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            raise RuntimeError("the borrowers' site did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per session)
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(params=LOCALES)
def locale(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
async def context(browser: Browser, locale: str) -> AsyncIterator[BrowserContext]:
    """A fresh context per test (no cookies, no cache from another), in the test's locale: its
    ``Accept-Language`` is what the site answers in."""
    fresh = await browser.new_context(
        locale=locale, viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    try:
        yield fresh
    finally:
        await fresh.close()


@dataclass
class Shots:
    """Saves full-page screenshots named after the test, its locale and a step."""

    test: str
    locale: str

    async def take(self, page: Page, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.test}-{self.locale}-{step}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest, locale: str) -> Shots:
    name = request.node.originalname.removeprefix("test_")
    return Shots(name, locale)


@dataclass
class Site:
    """The borrowers' site under test: its URL, and a new borrower's link (a fresh loan)."""

    url: str
    new_link: Callable[[], Awaitable[str]]


INTAKE = next(s for s in SERVICES if s.name == "intake")


@pytest.fixture(scope="session")
async def site(infrastructure: TestInfrastructure) -> AsyncIterator[Site]:
    """The real site (``create_borrower_app`` with the real desk) beside intake and the
    notifier on real Kafka and PostgreSQL, with the local providers. A new link is what a
    borrower gets: a loan reported through intake's lender API, its first reminder sent, and
    the link read from that SMS in the providers' journal (the notifier mints it with the
    platform's link keys, pointing at this site)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with every_service(infrastructure, borrower_base_url=base) as stack:
        platform = stack.platform
        options = service_options(
            INTAKE,
            platform.database_urls["intake"],
            infrastructure.kafka_bootstrap,
            platform.secrets,
            platform.namespace,
        )
        app = create_borrower_app(IntakeSettings(**options, borrower_base_url=base))
        async with serving(app, port=port, lifespan="on") as url:

            async def new_link() -> str:
                loan_id, phone = await stack.report_loan()
                await stack.make_due(loan_id, step=1)
                await eventually(lambda: _messages(stack, phone), within=30)
                (sms,) = stack.providers.journal.messages(phone)
                (link,) = [word for word in sms.body.split() if word.startswith(f"{base}/b/")]
                return link

            yield Site(url, new_link)


@asynccontextmanager
async def every_service(
    infrastructure: TestInfrastructure, **notifier: Any
) -> AsyncIterator[Stack]:
    """The four services (a data request is ready once the notifier, the gateway and
    compliance answered), the notifier sending to the local providers (as in
    ``notifier_stack``, which runs intake and the notifier only)."""
    port = free_port()
    receipts = f"http://127.0.0.1:{port}/v1/receipts"
    async with running_providers(emulator_config(receipts)) as providers:
        options = {"notifier": notifier_settings(providers, receipts, **notifier)}
        async with (
            running_platform(infrastructure, settings=options) as platform,
            serve_receipts(platform.apps["notifier"], port=port),
        ):
            yield Stack(platform, providers)


async def _messages(stack: Stack, phone: str) -> bool:
    return bool(stack.providers.journal.messages(phone))
