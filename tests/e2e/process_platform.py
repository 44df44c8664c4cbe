"""The whole platform as real processes, for the fault suite: each service replica and the
local providers a separate OS process (devstack's :class:`ManagedProcess`), so a test can
SIGKILL one and start it again, on the test session's Kafka and PostgreSQL (or a three-broker
cluster's: then every topic gets 3 replicas, 2 in sync).

Each run gets its own databases and topic namespace. Two replicas of each consumer service
(so two notifier senders); one intake. The consumers' databases are reached through a
:class:`TcpProxy` each, so a test can take one away. Status callbacks and STOP replies go to
the first notifier replica, as a load balancer would send them to one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import make_url

from deploy.devstack.platform import (
    DEMO_AGENCIES,
    SERVICES,
    DemoCredentials,
    PlatformSecrets,
    build_app,
    issue_demo_keys,
    service_environment,
    service_options,
)
from deploy.devstack.processes import ManagedProcess
from deploy.local_providers.smtp_server import self_signed_certificate
from services.agency_gateway.cli.demo import seed_demo_agencies
from shared.auth import ALL_LENDERS, IssuedKey, Role
from shared.db.migrations import upgrade_to_head
from tests.faults import TcpProxy
from tests.infrastructure import TestInfrastructure
from tests.outbox_witness import witness_outbox

REPO = Path(__file__).resolve().parents[2]
REPLICAS = {"intake": 1, "notifier": 2, "agency_gateway": 2, "compliance": 2}
READY_WITHIN = 120.0
CALLBACK_TOKEN = "local-aliyun-callback-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Replica:
    """One process of a service: started, SIGKILLed, started again on the same port."""

    service: str
    index: int
    port: int
    env: dict[str, str]
    log_path: Path
    process: ManagedProcess | None = None
    kills: int = 0
    entry: tuple[str, ...] = ()  # after ``-m services.<service>``: ("borrower",) for the site

    @property
    def name(self) -> str:
        return "-".join([self.service, *self.entry, str(self.index)])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **settings: Any) -> None:
        """Start it (with extra settings, by field name, for this start only)."""
        prefix = next(s.env_prefix for s in SERVICES if s.name == self.service)
        extra = {f"{prefix}{name.upper()}": str(value) for name, value in settings.items()}
        self.process = ManagedProcess(
            self.name,
            [sys.executable, "-m", f"services.{self.service}", *self.entry],
            log_path=self.log_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **extra},
            cwd=REPO,
            stop_plan=((signal.SIGTERM, 15.0),),
        )
        self.process.start()

    async def ready(self, within: float = READY_WITHIN) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while True:
                assert self.process is not None
                assert self.process.running(), f"{self.name} exited; see {self.log_path}"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{self.name} not ready; see {self.log_path}"
                await asyncio.sleep(0.3)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye to the group coordinator."""
        assert self.process is not None
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.stop()  # reaps it
        self.kills += 1

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()


@dataclass
class ProcessPlatform:
    infrastructure: TestInfrastructure
    namespace: str
    credentials: DemoCredentials
    auditor_of_every_lender: IssuedKey
    database_urls: dict[str, str]  # direct, for the checker and the test's own SQL
    proxies: dict[str, TcpProxy]  # the consumers' way to their databases
    replicas: dict[str, list[Replica]]
    providers: ManagedProcess
    providers_url: str
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    borrower_site: Replica | None = None  # intake's borrowers' site, when asked for

    def first(self, service: str) -> Replica:
        return self.replicas[service][0]

    def lender(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.lender['api_key']}"}

    def agency(self, agency_id: str) -> dict[str, str]:
        key = next(a["api_key"] for a in self.credentials.agencies if a["id"] == agency_id)
        return {"Authorization": f"Bearer {key}"}

    def subscriptions(self) -> dict[str, list[tuple[str, list[str], frozenset[str]]]]:
        """Each consumer service's groups, topics and handled types, from its own wiring."""
        found = {}
        for service in SERVICES:
            if service.name == "intake":
                continue
            app = build_app(service.name, self.options[service.name])
            found[service.name] = app.state.runtime.subscriptions
        return found

    async def restart(self, replica: Replica, **settings: Any) -> None:
        await replica.stop()
        replica.start(**settings)
        await replica.ready()


async def _migrate(infrastructure: TestInfrastructure, run: str, witness: bool) -> dict[str, str]:
    urls = {}
    for service in SERVICES:
        database = f"{service.name}_{run}"
        await infrastructure.create_database(database)
        urls[service.name] = infrastructure.postgres_url(database)
        await upgrade_to_head(service.migrations, urls[service.name])
        if witness:  # what the invariants read as committed: the relay deletes what it sends
            await witness_outbox(urls[service.name])
    await seed_demo_agencies(urls["agency_gateway"], DEMO_AGENCIES)
    return urls


def _through(url: str, proxy: TcpProxy) -> str:
    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


@asynccontextmanager
async def process_platform(
    infrastructure: TestInfrastructure,
    logs: Path,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    borrower_site: bool = False,
    witness: bool = False,
) -> AsyncIterator[ProcessPlatform]:
    """Start everything, wait until every replica is ready; stop everything on exit.
    ``borrower_site``: intake's borrowers' site too, which the notifier's links point at.
    ``witness``: every database keeps a copy of each outbox row written
    (:mod:`tests.outbox_witness`), for the invariants' checks."""
    run = uuid4().hex[:8]
    namespace = f"f{run}."
    secrets = PlatformSecrets.generate()
    credentials = DemoCredentials.generate()
    # Every topic with the replication this Kafka needs (3 replicas, 2 in sync on a cluster).
    topics = infrastructure.topic_settings()
    issuer = await issue_demo_keys(
        infrastructure.kafka_bootstrap,
        credentials,
        namespace,
        replication_factor=topics["topic_replication_factor"],
        min_insync_replicas=topics["topic_min_insync_replicas"],
    )
    auditor = await issuer.issue(Role.AUDITOR, ALL_LENDERS, "fault suite: every lender")
    urls = await _migrate(infrastructure, run, witness)
    ports = {name: [free_port() for _ in range(n)] for name, n in REPLICAS.items()}
    http_port, smtp_port, site_port = free_port(), free_port(), free_port()
    receipts = f"http://127.0.0.1:{ports['notifier'][0]}/v1/receipts"
    site_url = f"http://127.0.0.1:{site_port}"
    state = logs / "local_providers"
    certificate, _ = self_signed_certificate(state)
    async with AsyncExitStack() as stack:
        providers = ManagedProcess(
            "local_providers",
            [
                sys.executable,
                "-m",
                "deploy.local_providers",
                "--http-port",
                str(http_port),
                "--smtp-port",
                str(smtp_port),
                "--state-dir",
                str(state),
                "--receipts-url",
                receipts,
                "--callback-attempts",
                "30",
            ],
            log_path=logs / "local_providers.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
        )
        providers.start()
        stack.push_async_callback(providers.stop)
        providers_url = f"http://127.0.0.1:{http_port}"
        own: dict[str, dict[str, Any]] = {
            "notifier": {
                "twilio_base_url": f"{providers_url}/twilio",
                "twilio_status_callback_url": f"{receipts}/twilio",
                "aliyun_endpoint": f"{providers_url}/aliyun/",
                "smtp_port": smtp_port,
                "smtp_ca_file": str(certificate),
                "borrower_base_url": site_url,
            },
            "intake": {"borrower_base_url": site_url},
        }
        proxies: dict[str, TcpProxy] = {}
        for name in ("notifier", "agency_gateway", "compliance"):
            target = make_url(urls[name])
            proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
            await proxy.start()
            stack.push_async_callback(proxy.close)
            proxies[name] = proxy
        replicas: dict[str, list[Replica]] = {}
        options: dict[str, dict[str, Any]] = {}
        for service in SERVICES:
            url = (
                _through(urls[service.name], proxies[service.name])
                if service.name in proxies
                else urls[service.name]
            )
            env = service_environment(
                service, url, infrastructure.kafka_bootstrap, secrets, namespace
            )
            extra = {
                **topics,
                **own.get(service.name, {}),
                **(settings or {}).get(service.name, {}),
            }
            env.update({f"{service.env_prefix}{k.upper()}": str(v) for k, v in extra.items()})
            options[service.name] = {
                **service_options(service, url, infrastructure.kafka_bootstrap, secrets, namespace),
                **extra,
            }
            replicas[service.name] = []
            for index, port in enumerate(ports[service.name], start=1):
                replica = Replica(
                    service.name,
                    index,
                    port,
                    {**env, f"{service.env_prefix}HTTP_PORT": str(port)},
                    logs / f"{service.name}-{index}.log",
                )
                stack.push_async_callback(replica.stop)
                replica.start()
                replicas[service.name].append(replica)
        everyone = [r for group in replicas.values() for r in group]
        site = None
        if borrower_site:
            intake = replicas["intake"][0]
            site_env = {**intake.env, "INTAKE_BORROWER_HTTP_PORT": str(site_port)}
            site = Replica(
                "intake",
                1,
                site_port,
                site_env,
                logs / "intake-borrower-1.log",
                entry=("borrower",),
            )
            stack.push_async_callback(site.stop)
            site.start()
            everyone.append(site)
        await asyncio.gather(*(replica.ready() for replica in everyone))
        yield ProcessPlatform(
            infrastructure,
            namespace,
            credentials,
            auditor,
            urls,
            proxies,
            replicas,
            providers,
            providers_url,
            options,
            site,
        )
