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
    seed_credentials,
    service_options,
)
from shared.runtime import ServiceRuntime

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

    def runtime(self, service: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[service].state.runtime
        return runtime

    def as_lender(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.lender['api_key']}"}

    def as_auditor(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.auditor['api_key']}"}


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
    platform = RunningPlatform(f"t{run}.", credentials, {}, {}, {})
    async with AsyncExitStack() as stack:
        for service in SERVICES:
            if service.name not in services:
                continue
            database = f"{service.name}_{run}"
            await infrastructure.create_database(database)
            url = infrastructure.postgres_url(database)
            options = service_options(
                service, url, infrastructure.kafka_bootstrap, keys, platform.namespace
            )
            options.update((settings or {}).get(service.name, {}))
            app = build_app(service.name, options)
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=120, shutdown_timeout=60)
            )
            await seed_credentials(url, credentials.grants(service.name))
            platform.apps[service.name] = app
            platform.database_urls[service.name] = url
            platform.clients[service.name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{service.name}"
                )
            )
        await eventually(lambda: all_consumers_joined(platform), within=60)
        yield platform


async def all_consumers_joined(platform: RunningPlatform) -> bool:
    return all(
        runner.joined for app in platform.apps.values() for runner in app.state.runtime.consumers
    )


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
