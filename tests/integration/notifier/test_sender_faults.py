"""No reminder lost or sent twice: two notifier replicas share the work, and one killed with
SIGKILL in the middle of a batch is restarted; every borrower gets exactly one text.

The notifiers are real processes (``python -m services.notifier``) on the test's Kafka and
PostgreSQL; intake runs in this process to report the loans; the local providers receive the
texts and post their signed status callbacks back to the notifiers over HTTP.
"""

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import SERVICES, service_environment
from deploy.local_providers.server import RunningProviders, running_providers
from tests.harness import RunningPlatform, eventually, running_platform
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import Stack, emulator_config, free_port, notifier_settings

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[3]
NOTIFIER = next(service for service in SERVICES if service.name == "notifier")
LOANS = 60


@dataclass
class Replica:
    port: int
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.notifier",
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within=60, interval=0.2)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


@asynccontextmanager
async def replicas(
    infrastructure: TestInfrastructure, tmp_path: Path, count: int, **settings: Any
) -> AsyncIterator[tuple[RunningPlatform, RunningProviders, list[Replica]]]:
    """Intake here, ``count`` notifier processes on one database, and the local providers.

    Status callbacks go to the first replica, whichever sent the text, as a load balancer
    would route them; they are retried for a while, as a provider does when nobody answers.
    """
    ports = [free_port() for _ in range(count)]
    receipts = f"http://127.0.0.1:{ports[0]}/v1/receipts"
    async with AsyncExitStack() as stack:
        providers = await stack.enter_async_context(running_providers(emulator_config(receipts)))
        platform = await stack.enter_async_context(running_platform(infrastructure, ("intake",)))
        database = f"notifier_{platform.namespace.strip('.')}"
        await infrastructure.create_database(database)
        environment = service_environment(
            NOTIFIER,
            infrastructure.postgres_url(database),
            infrastructure.kafka_bootstrap,
            platform.secrets,
            platform.namespace,
        )
        options = notifier_settings(
            providers, receipts, sender_lease_seconds=8.0, sender_batch_size=10, **settings
        )
        environment.update({f"NOTIFIER_{k.upper()}": str(v) for k, v in options.items()})
        started = []
        for number, port in enumerate(ports):
            env = {**os.environ, **environment, "NOTIFIER_HTTP_PORT": str(port)}
            replica = Replica(port, env, tmp_path / f"notifier-{number}.log")
            stack.push_async_callback(replica.stop)
            await replica.start()
            started.append(replica)
        yield platform, providers, started


async def report_and_make_due(
    platform: RunningPlatform, providers: RunningProviders, replica: Replica
) -> list[str]:
    """``LOANS`` loans, each a borrower of its own, whose first reminder is due now."""
    stack = Stack(platform, providers)
    stack.platform.clients["notifier"] = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{replica.port}"
    )
    phones = [(await stack.report_loan())[1] for _ in range(LOANS)]
    return phones


async def notifier_database(replica: Replica) -> Any:
    return create_async_engine(replica.env["NOTIFIER_DATABASE_URL"])


async def make_all_due(replica: Replica) -> None:
    engine = await notifier_database(replica)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE notifications SET due_at = now() WHERE step = 1 AND status = 'scheduled'")
        )
    await engine.dispose()


async def settled(replica: Replica) -> bool:
    engine = await notifier_database(replica)
    async with engine.connect() as connection:
        left = await connection.scalar(
            text(
                "SELECT count(*) FROM notifications "
                "WHERE step = 1 AND status NOT IN ('sent', 'delivered')"
            )
        )
    await engine.dispose()
    return bool(left == 0)


def texts_per_borrower(providers: RunningProviders, phones: list[str]) -> Counter[str]:
    return Counter(message.to for message in providers.journal.messages() if message.to in phones)


async def test_two_replicas_share_the_due_reminders_and_send_each_once(
    infrastructure: TestInfrastructure, tmp_path: Path
) -> None:
    async with replicas(infrastructure, tmp_path, count=2) as (platform, providers, running):
        phones = await report_and_make_due(platform, providers, running[0])
        await make_all_due(running[0])
        await eventually(lambda: settled(running[0]), within=90, interval=0.5)
        assert texts_per_borrower(providers, phones) == Counter({phone: 1 for phone in phones})


async def test_a_replica_killed_mid_batch_neither_loses_nor_doubles_a_reminder(
    infrastructure: TestInfrastructure, tmp_path: Path
) -> None:
    slowly = {"twilio_rate_per_second": 20.0}  # a few seconds of sending to kill it in
    async with replicas(infrastructure, tmp_path, 1, **slowly) as (platform, providers, running):
        (replica,) = running
        phones = await report_and_make_due(platform, providers, replica)
        await make_all_due(replica)

        async def some_sent() -> bool:
            return sum(texts_per_borrower(providers, phones).values()) >= LOANS // 4

        await eventually(some_sent, within=60, interval=0.01)
        await replica.kill()
        sent_before_restart = sum(texts_per_borrower(providers, phones).values())
        assert sent_before_restart < LOANS, "the kill came too late to test anything"
        await replica.start()
        await eventually(lambda: settled(replica), within=90, interval=0.5)
        assert texts_per_borrower(providers, phones) == Counter({phone: 1 for phone in phones})
