"""Receipts are taken only for the SMS providers this notifier is configured with: another
provider's route is 404, even with that provider's (public) demo secret."""

import httpx

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options

ALIYUN_REPLY = (
    b'[{"phone_number": "13800138000", "content": "TD", "send_time": "2026-01-01 10:00:00"}]'
)


async def test_the_receipts_of_a_provider_not_configured_are_404() -> None:
    notifier = next(s for s in SERVICES if s.name == "notifier")
    options = service_options(
        notifier, "postgresql+asyncpg://-/-", "-:0", PlatformSecrets.generate()
    )
    app = build_app("notifier", options | {"sms_providers": "twilio"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post(
            "/v1/receipts/aliyun?token=local-aliyun-callback-token",
            content=ALIYUN_REPLY,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
