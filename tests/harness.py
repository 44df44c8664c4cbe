"""The whole platform in the test process: the four apps on real Kafka and PostgreSQL.

Each test session gets its own databases and topic namespace, so runs never see each other's
data and need no truncation. The apps run their real lifespans (migrations, relay, consumers);
clients talk to them through ASGI, the same code path as under uvicorn.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import uuid4

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from deploy.devstack.platform import (
    SERVICES,
    DemoCredentials,
    PlatformSecrets,
    build_app,
    issue_demo_keys,
    service_options,
)
from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.server import running_providers
from shared.auth import ALL_LENDERS, IssuedKey, Role
from shared.auth.registry import CredentialIssuer, end_offsets
from shared.db.migrations import upgrade_to_head
from shared.runtime import ServiceRuntime
from tests.outbox_witness import witness_outbox

T = TypeVar("T")


class Infrastructure(Protocol):
    kafka_bootstrap: str

    def postgres_url(self, database: str) -> str: ...

    async def create_database(self, name: str) -> None: ...


@dataclass
class RunningPlatform:
    namespace: str
    credentials: DemoCredentials
    clients: dict[str, httpx.AsyncClient]
    apps: dict[str, FastAPI]
    database_urls: dict[str, str]
    keys: CredentialIssuer  # the platform's credential registry
    secrets: PlatformSecrets  # the data, transit and pseudonym keys the services were given
    every_lender_auditor: IssuedKey  # tenant "*": the demo auditor sees the demo lender only

    def runtime(self, service: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[service].state.runtime
        return runtime

    def as_lender(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.lender['api_key']}"}

    def as_auditor(self) -> dict[str, str]:
        """The demo auditor: the demo lender's (``credentials.lender``)."""
        return {"Authorization": f"Bearer {self.credentials.auditor['api_key']}"}

    def as_auditor_of_every_lender(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.every_lender_auditor.api_key}"}

    async def issue(self, role: Role, tenant: str, label: str = "") -> IssuedKey:
        """A key from the registry, once every running service has it (the operator's
        ``issue`` returns before the services have read the record; tests wait here)."""
        issued = await self.keys.issue(role, tenant, label)
        await self.registry_read_by_all()
        return issued

    async def revoke(self, key_id: str) -> bool:
        return await self.keys.revoke(key_id)

    async def registry_read_by_all(self) -> None:
        """Wait until every service's feed has read the registry up to its end now."""
        ends = await end_offsets(self.keys.kafka, self.keys.topic)

        async def read_by_all() -> bool:
            return all(
                self.runtime(name).credentials.positions.get(partition, 0) >= end
                for name in self.apps
                for partition, end in ends.items()
            )

        await eventually(read_by_all, within=30)


@asynccontextmanager
async def running_platform(
    infrastructure: Infrastructure,
    services: tuple[str, ...] = tuple(s.name for s in SERVICES),
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[RunningPlatform]:
    """The named services, each with its settings plus ``settings[service]`` if given."""
    run = uuid4().hex[:10]
    keys = PlatformSecrets.generate()
    credentials = DemoCredentials.generate()
    namespace = f"t{run}."
    issuer = await issue_demo_keys(infrastructure.kafka_bootstrap, credentials, namespace)
    every_lender = await issuer.issue(Role.AUDITOR, ALL_LENDERS, "tests: every lender")
    platform = RunningPlatform(namespace, credentials, {}, {}, {}, issuer, keys, every_lender)
    async with AsyncExitStack() as stack:
        given = {name: dict(values) for name, values in (settings or {}).items()}
        if "notifier" in services and "notifier" not in given:
            given["notifier"] = await _own_providers(stack)
        for service in SERVICES:
            if service.name not in services:
                continue
            database = f"{service.name}_{run}"
            await infrastructure.create_database(database)
            url = infrastructure.postgres_url(database)
            await upgrade_to_head(service.migrations, url)
            await witness_outbox(url)  # the relay deletes what it publishes: tests read a copy
            options = service_options(
                service, url, infrastructure.kafka_bootstrap, keys, platform.namespace
            )
            options.update(given.get(service.name, {}))
            app = build_app(service.name, options)
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=120, shutdown_timeout=60)
            )
            platform.apps[service.name] = app
            platform.database_urls[service.name] = url
            platform.clients[service.name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{service.name}"
                )
            )
        await eventually(lambda: all_consumers_joined(platform), within=60)
        await eventually(lambda: registries_read(platform), within=60)
        yield platform


async def _own_providers(stack: AsyncExitStack) -> dict[str, Any]:
    """Local providers of the test's own, on free ports, so what a test's notifier sends
    never reaches a ``make run`` on the same machine (its defaults are that stack's ports)."""
    providers = await stack.enter_async_context(
        running_providers(EmulatorConfig(http_port=0, smtp_port=0, callback_attempts=1))
    )
    return {
        "twilio_base_url": f"{providers.http_url}/twilio",
        "twilio_status_callback_url": "",
        "aliyun_endpoint": f"{providers.http_url}/aliyun/",
        "smtp_port": providers.smtp_port,
        "smtp_ca_file": str(providers.smtp_certificate),
    }


async def all_consumers_joined(platform: RunningPlatform) -> bool:
    return all(
        runner.joined for app in platform.apps.values() for runner in app.state.runtime.consumers
    )


async def registries_read(platform: RunningPlatform) -> bool:
    return all(app.state.runtime.credentials.caught_up.is_set() for app in platform.apps.values())


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float = 30.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {within} s")
        await asyncio.sleep(interval)
