"""Intake's readiness is its database (and its credential registry, read from the ``api_keys``
mirror when Kafka is away): with no broker it stays in the load balancer and alive, and reports
the producer it cannot start."""

from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure

NO_BROKER = "127.0.0.1:1"


@pytest.mark.faults
async def test_intake_with_no_broker_is_ready_and_alive(
    infrastructure: TestInfrastructure,
) -> None:
    database = f"readiness_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    intake = next(service for service in SERVICES if service.name == "intake")
    options = service_options(
        intake, infrastructure.postgres_url(database), NO_BROKER, PlatformSecrets.generate()
    )
    app = build_app("intake", options)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client,
    ):

        async def producer_failed() -> bool:
            return bool(app.state.runtime.task_states["producer"].restarts)

        await eventually(producer_failed, within=30)
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "credentials": "ok"}
        alive = await client.get("/healthz")
        assert alive.status_code == 200, alive.text
        assert alive.json()["tasks"]["producer"]["running"] is False
        assert alive.json()["tasks"]["producer"]["last_error"]


async def test_every_running_service_is_ready_and_alive(platform: RunningPlatform) -> None:
    for name, client in platform.clients.items():
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        expected = {"database", "credentials"} | ({"consumers"} if name != "intake" else set())
        assert set(ready.json()["checks"]) == expected, name
        alive = await client.get("/healthz")
        assert alive.status_code == 200, alive.text
        assert alive.json()["tasks"]["outbox-relay"]["running"] is True
