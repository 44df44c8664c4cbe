"""Kafka and PostgreSQL for the platform, as one async context manager.

Used by ``make run`` (root ``.devstack/``) and by the tests (root ``.devstack-test/``)::

    async with LocalInfrastructure(Path(".devstack"), kafka_port=9092) as infra:
        await infra.create_database("intake")
        url = infra.postgres_url("intake")  # postgresql+asyncpg://postgres@127.0.0.1:54329/intake
        bootstrap = infra.kafka_bootstrap  # 127.0.0.1:9092

``kafka_brokers=3`` starts a cluster of three combined broker+controller nodes instead of one
(bootstrap ``127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096``; see :class:`KafkaCluster`).

What it starts it stops on exit (Kafka first, then PostgreSQL); the data stays in ``root``. A
server given from outside (``kafka_bootstrap=`` / ``postgres_admin_url=``, or the environment
through :meth:`LocalInfrastructure.from_environment`) is only waited for, never started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import kafka, postgres
from .errors import DevstackError
from .kafka import KafkaCluster, Replication
from .postgres import PostgresServer
from .processes import RunLock, ensure_port_free

log = logging.getLogger("devstack")

KAFKA_BOOTSTRAP_ENV = "COLLECTIONS_KAFKA_BOOTSTRAP"
POSTGRES_URL_ENV = "COLLECTIONS_POSTGRES_URL"


async def _all(*steps: Awaitable[Any]) -> None:
    """Run steps concurrently; if one fails, cancel the others and raise its error."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class LocalInfrastructure:
    """Kafka and PostgreSQL: started locally with their data in ``root``, or given from outside."""

    def __init__(
        self,
        root: Path,
        *,
        kafka_port: int = 9092,
        postgres_port: int = 54329,
        cache_dir: Path | None = None,
        kafka_bootstrap: str | None = None,
        postgres_admin_url: str | None = None,
        kafka_brokers: int = 1,
        kafka_fresh: bool = False,
    ) -> None:
        """``kafka_port`` + 1 is used too (controller), and up to ``kafka_port + 2 * brokers - 1``
        for a cluster; ``cache_dir`` defaults to root/cache. ``kafka_fresh``: format the Kafka
        storage at every start (no topics from earlier runs)."""
        self.root = root.resolve()
        self.logs_dir = self.root / "logs"
        self.cache_dir = (cache_dir or self.root / "cache").resolve()
        run_dir = self.root / "run"
        self._lock = RunLock(self.root / "devstack.lock", f"a dev stack in {self.root}")
        self._kafka: KafkaCluster | None = None
        self._server: PostgresServer | None = None
        if kafka_bootstrap is None:
            libs = kafka.libs_dir(self.cache_dir)
            self._kafka = KafkaCluster(
                self.root,
                kafka_port,
                libs,
                self.logs_dir,
                run_dir,
                brokers=kafka_brokers,
                fresh=kafka_fresh,
            )
        if postgres_admin_url is None:
            self._server = PostgresServer(
                self.root / "postgres", postgres_port, self.logs_dir, run_dir
            )
        self._kafka_bootstrap = kafka_bootstrap or (self._kafka.bootstrap if self._kafka else "")
        self._admin_url = (
            postgres_admin_url or f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres"
        )

    @classmethod
    def from_environment(
        cls,
        root: Path,
        *,
        kafka_port: int = 9092,
        postgres_port: int = 54329,
        cache_dir: Path | None = None,
        kafka_env: str = KAFKA_BOOTSTRAP_ENV,
        postgres_env: str = POSTGRES_URL_ENV,
    ) -> LocalInfrastructure:
        """Use the servers named by the environment (if set) instead of starting them."""
        return cls(
            root,
            kafka_port=kafka_port,
            postgres_port=postgres_port,
            cache_dir=cache_dir,
            kafka_bootstrap=os.environ.get(kafka_env) or None,
            postgres_admin_url=os.environ.get(postgres_env) or None,
        )

    # What the platform and the tests use.

    @property
    def kafka_bootstrap(self) -> str:
        """``host:port`` of the broker (of each, comma-separated), for ``bootstrap_servers``."""
        return self._kafka_bootstrap

    @property
    def kafka_replication(self) -> Replication:
        """What topics should be created with on the local Kafka: 1 and 1 on one broker; on a
        cluster, 3 replicas with 2 in sync (the broker's own topics have that already)."""
        return self._kafka.replication if self._kafka is not None else Replication()

    @property
    def kafka_node_ids(self) -> list[int]:
        """The node ids of the local Kafka (empty if it is external)."""
        return [node.node_id for node in self._kafka.nodes] if self._kafka is not None else []

    @property
    def postgres_admin_url(self) -> str:
        """A libpq URL of the server's ``postgres`` database, as a superuser."""
        return self._admin_url

    def postgres_url(self, database: str) -> str:
        """The SQLAlchemy async URL of ``database``: ``postgresql+asyncpg://...``."""
        return postgres.sqlalchemy_url(self._admin_url, database)

    async def create_database(self, name: str) -> None:
        """Create the database unless it exists."""
        await postgres.create_database(self._admin_url, name)

    @property
    def kafka_is_local(self) -> bool:
        """Whether this object runs the broker (and so can stop and start it)."""
        return self._kafka is not None

    @property
    def postgres_is_local(self) -> bool:
        return self._server is not None

    async def stop_kafka(self) -> None:
        """Stop the local broker(s) (the data stays), e.g. to test what happens while away."""
        await self._local_kafka("stop_kafka").stop()

    async def kill_kafka(self) -> None:
        """SIGKILL the local broker(s), as a crash would (the data stays)."""
        await self._local_kafka("kill_kafka").kill()

    async def start_kafka(self) -> None:
        """Start the local broker(s) again on the same data and wait until all answer."""
        await self._local_kafka("start_kafka").start()

    async def kill_kafka_node(self, node_id: int) -> None:
        """SIGKILL one node of the local cluster (the others go on); its data stays."""
        await self._local_kafka("kill_kafka_node").kill_node(node_id)

    async def start_kafka_node(self, node_id: int) -> None:
        """Start one node again on its data; wait until it is back in the cluster."""
        await self._local_kafka("start_kafka_node").start_node(node_id)

    def failure(self) -> str | None:
        """What went wrong, if a server this object started has exited on its own."""
        if self._kafka is not None and (failure := self._kafka.failure()) is not None:
            return failure
        if self._server is not None and not self._server.running():
            return f"PostgreSQL exited; see {self._server.log_path}"
        return None

    async def stop_leftovers(self) -> None:
        """Stop servers that a killed earlier run left behind in ``root``."""
        if self._kafka is not None:
            await self._kafka.stop_leftover()
        if self._server is not None:
            await self._server.stop_leftover()

    def _local_kafka(self, action: str) -> KafkaCluster:
        if self._kafka is None:
            raise DevstackError(
                f"{action} needs the local Kafka; this one is external ({self._kafka_bootstrap})"
            )
        return self._kafka

    # Starting and stopping.

    async def __aenter__(self) -> Self:
        if self._kafka is None and self._server is None:
            await self._wait_for_external()
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _wait_for_external(self) -> None:
        await _all(
            kafka.wait_for_kafka(self._kafka_bootstrap, 30.0),
            postgres.wait_for_postgres(self._admin_url, 30.0),
        )

    async def _start(self) -> None:
        broker, server = self._kafka, self._server
        if broker is not None:
            await broker.stop_leftover()
            hint = f"set {KAFKA_BOOTSTRAP_ENV}=host:port to use a broker that is already running"
            for port, what in broker.ports():
                ensure_port_free(port, what, hint)
        if server is not None:
            await server.stop_leftover()
            hint = f"set {POSTGRES_URL_ENV}=postgresql://user:pw@host:port/postgres to use another"
            ensure_port_free(server.port, "PostgreSQL", hint)
        steps: list[Awaitable[None]] = []
        if broker is not None:
            steps.append(self._start_kafka(broker))
        else:
            steps.append(kafka.wait_for_kafka(self._kafka_bootstrap, 30.0))
        if server is not None:
            steps.append(self._start_postgres(server))
        else:
            steps.append(postgres.wait_for_postgres(self._admin_url, 30.0))
        await _all(*steps)

    async def _start_kafka(self, broker: KafkaCluster) -> None:
        await kafka.fetch_libs(self.cache_dir)
        started = time.monotonic()
        await broker.prepare()
        await broker.start()
        log.info("Kafka ready on %s (%.1f s)", broker.bootstrap, time.monotonic() - started)

    async def _start_postgres(self, server: PostgresServer) -> None:
        started = time.monotonic()
        await server.prepare()
        server.start()
        await server.wait_ready()
        log.info(
            "PostgreSQL ready on 127.0.0.1:%d (%.1f s)", server.port, time.monotonic() - started
        )

    async def _stop(self) -> None:
        try:
            if self._kafka is not None:
                await self._kafka.stop()
        finally:
            try:
                if self._server is not None:
                    await self._server.stop()
            finally:
                self._lock.release()
