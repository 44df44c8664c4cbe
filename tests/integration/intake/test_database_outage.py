"""A database that is away is a 503 with Retry-After, never a 500: the lender retries later."""

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import make_url

from services.intake.settings import IntakeSettings
from services.intake.wiring import create_app
from shared.http.problems import RETRY_AFTER_SECONDS
from tests.faults import tcp_proxy
from tests.harness import RunningPlatform
from tests.integration.intake.support import assert_problem
from tests.support.factories import new_loan_id, report


@pytest.mark.faults
async def test_requests_while_the_database_is_away_are_a_503_to_retry(
    platform: RunningPlatform, lender: dict[str, str]
) -> None:
    settings = platform.runtime("intake").settings
    assert isinstance(settings, IntakeSettings)
    url = make_url(settings.database_url)
    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        # A second intake on the same database, through the proxy; the platform's intake
        # relays the outbox.
        app = create_app(
            settings.model_copy(update={"database_url": proxied, "outbox_relay": False})
        )
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
                loan_id = new_loan_id()
                proxy.cut()
                try:
                    responses = [
                        await client.post(
                            "/v1/overdue-loans", json=report(loan_id), headers=lender
                        ),
                        await client.get(f"/v1/loans/{loan_id}", headers=lender),
                    ]
                finally:
                    proxy.restore()
                for response in responses:
                    assert_problem(response, 503)
                    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
                accepted = await client.post(
                    "/v1/overdue-loans", json=report(loan_id), headers=lender
                )
                assert accepted.status_code == 202, accepted.text
