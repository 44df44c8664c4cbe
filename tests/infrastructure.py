"""Kafka and PostgreSQL for the tests: the one place that decides where they come from.

In this order:

1. ``COLLECTIONS_TEST_KAFKA_BOOTSTRAP`` (``host:port``) and ``COLLECTIONS_TEST_POSTGRES_URL``
   (an admin URL, ``postgresql://user:pw@host:port/postgres``), both set: servers already
   running somewhere; nothing is started.
2. testcontainers, when a Docker engine answers.
3. The same local stack as ``make run`` (``deploy.devstack``): data in ``.devstack-test/``,
   Kafka on 127.0.0.1:19092 (controller 19093), PostgreSQL on 127.0.0.1:54339, the Kafka jars
   shared with ``.devstack/cache/``. While another test session holds that stack, the next
   free slot is used: ``.devstack-test/slot-N/`` with every port + 100 * N.

``COLLECTIONS_TEST_INFRA=external|docker|local`` forces a choice. The servers are started once
per process: nested or repeated :func:`provide_infrastructure` calls share them, and the last
one out stops them.

:func:`provide_cluster_infrastructure` gives a three-broker KRaft cluster instead, always from
the local jars (``.devstack-test/cluster-N/``, brokers on 19102, 19104, 19106 + 100 * N,
formatted anew at each start), with the session's PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Literal

from deploy.devstack import (
    AlreadyRunningError,
    DevstackError,
    LocalInfrastructure,
    PortInUseError,
)
from deploy.devstack.paths import DEFAULT_CACHE, TEST_ROOT

log = logging.getLogger("devstack")

KAFKA_ENV = "COLLECTIONS_TEST_KAFKA_BOOTSTRAP"
POSTGRES_ENV = "COLLECTIONS_TEST_POSTGRES_URL"
CHOICE_ENV = "COLLECTIONS_TEST_INFRA"
LOCAL_KAFKA_PORT = 19092
LOCAL_POSTGRES_PORT = 54339
LOCAL_SLOTS = 8  # test sessions that can run side by side on one machine
CLUSTER_PORT_OFFSET = 10  # a slot's cluster: its Kafka port + 10 onwards, 2 ports a broker
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
POSTGRES_IMAGE = "postgres:17-alpine"

Kind = Literal["external", "docker", "local"]


class TestInfrastructure:
    """Kafka and PostgreSQL for a test session, wherever they come from."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, kind: Kind, infra: LocalInfrastructure) -> None:
        self.kind: Kind = kind
        self.kafka_bootstrap: str = infra.kafka_bootstrap
        """``host:port`` of the broker, of each for a cluster (the same after a restart)."""
        self._infra = infra

    @property
    def postgres_admin_url(self) -> str:
        return self._infra.postgres_admin_url

    @property
    def kafka_node_ids(self) -> list[int]:
        """The node ids of the local Kafka: ``[1]``, or ``[1, 2, 3]`` for a cluster."""
        return self._infra.kafka_node_ids

    def topic_settings(self) -> dict[str, int]:
        """The services' topic settings for this Kafka, by field name: the replication factor
        and ``min.insync.replicas`` its topics need (1 and 1 on one broker, 3 and 2 on a
        cluster)."""
        replication = self._infra.kafka_replication
        return {
            "topic_replication_factor": replication.factor,
            "topic_min_insync_replicas": replication.min_insync,
        }

    def postgres_url(self, database: str) -> str:
        """SQLAlchemy async URL (``postgresql+asyncpg://``) of ``database``."""
        return self._infra.postgres_url(database)

    async def create_database(self, name: str) -> None:
        """Create the database unless it exists."""
        await self._infra.create_database(name)

    @property
    def can_restart_kafka(self) -> bool:
        """Whether :meth:`stop_kafka` / :meth:`start_kafka` work (only on the local stack)."""
        return self._infra.kafka_is_local

    async def stop_kafka(self) -> None:
        """Stop the broker, keeping its data (fault injection; local stack only)."""
        self._require_local_kafka("stop_kafka")
        await self._infra.stop_kafka()

    async def kill_kafka(self) -> None:
        """SIGKILL the broker (a crash, no clean shutdown), keeping its data; local stack only."""
        self._require_local_kafka("kill_kafka")
        await self._infra.kill_kafka()

    async def start_kafka(self) -> None:
        """Start the broker again on the same data and wait until it answers."""
        self._require_local_kafka("start_kafka")
        await self._infra.start_kafka()

    async def kill_kafka_node(self, node_id: int) -> None:
        """SIGKILL one broker of a cluster; the others go on (local stack only)."""
        self._require_local_kafka("kill_kafka_node")
        await self._infra.kill_kafka_node(node_id)

    async def start_kafka_node(self, node_id: int) -> None:
        """Start that broker again on its data; wait until it is back in the cluster."""
        self._require_local_kafka("start_kafka_node")
        await self._infra.start_kafka_node(node_id)

    def _require_local_kafka(self, action: str) -> None:
        if not self.can_restart_kafka:
            raise DevstackError(
                f"{action}() needs the local stack; Kafka here is {self.kind} "
                f"({self.kafka_bootstrap}): set {CHOICE_ENV}=local to use the local stack"
            )


def _docker_answers() -> bool:
    """Whether a Docker engine answers a ping within a few seconds."""
    try:
        docker = importlib.import_module("docker")
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, no engine: all mean "no Docker"
        return False


async def _choose() -> Kind:
    forced = os.environ.get(CHOICE_ENV, "").strip()
    kafka, postgres = os.environ.get(KAFKA_ENV), os.environ.get(POSTGRES_ENV)
    if forced and forced not in ("external", "docker", "local"):
        raise DevstackError(f"{CHOICE_ENV} must be external, docker or local, not {forced!r}")
    if forced == "external" or (not forced and (kafka or postgres)):
        if not (kafka and postgres):
            raise DevstackError(f"set both {KAFKA_ENV} and {POSTGRES_ENV}, or neither")
        return "external"
    if forced == "docker" or (not forced and await asyncio.to_thread(_docker_answers)):
        return "docker"
    return "local"


@contextlib.asynccontextmanager
async def _containers() -> AsyncIterator[tuple[str, str]]:
    """A Kafka (KRaft) and a PostgreSQL container; yields (bootstrap, admin URL)."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    kafka = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_NUM_PARTITIONS", "6")
    )
    # Explicit credentials: PostgresContainer would read POSTGRES_USER & co. from the environment.
    postgres = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    ).with_command("postgres -c max_connections=200 -c fsync=off")
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.to_thread(kafka.start, timeout=120)
        stack.push_async_callback(asyncio.to_thread, kafka.stop)
        await asyncio.to_thread(postgres.start)
        stack.push_async_callback(asyncio.to_thread, postgres.stop)
        yield kafka.get_bootstrap_server(), postgres.get_connection_url()


@contextlib.asynccontextmanager
async def _provide() -> AsyncIterator[TestInfrastructure]:
    kind = await _choose()
    log.info("test infrastructure: %s", kind)
    if kind == "external":
        infra = LocalInfrastructure(
            TEST_ROOT,
            kafka_bootstrap=os.environ[KAFKA_ENV],
            postgres_admin_url=os.environ[POSTGRES_ENV],
        )
        async with infra:
            yield TestInfrastructure(kind, infra)
    elif kind == "docker":
        async with _containers() as (bootstrap, admin_url):
            infra = LocalInfrastructure(
                TEST_ROOT, kafka_bootstrap=bootstrap, postgres_admin_url=admin_url
            )
            async with infra:
                yield TestInfrastructure(kind, infra)
    else:
        async with _local_stack() as infra:
            yield TestInfrastructure(kind, infra)


@contextlib.asynccontextmanager
async def _local_stack() -> AsyncIterator[LocalInfrastructure]:
    """The local stack in the first slot that no other test session is using."""

    def stack(slot: int) -> LocalInfrastructure:
        return LocalInfrastructure(
            TEST_ROOT if slot == 0 else TEST_ROOT / f"slot-{slot}",
            kafka_port=LOCAL_KAFKA_PORT + 100 * slot,
            postgres_port=LOCAL_POSTGRES_PORT + 100 * slot,
            cache_dir=DEFAULT_CACHE,
        )

    async with _first_free_slot(stack) as infra:
        yield infra


@contextlib.asynccontextmanager
async def _first_free_slot(
    make: Callable[[int], LocalInfrastructure],
) -> AsyncIterator[LocalInfrastructure]:
    """Start ``make(slot)`` in the first slot whose folder and ports are free."""
    for slot in range(LOCAL_SLOTS):
        infra = make(slot)
        try:
            await infra.__aenter__()
        except (AlreadyRunningError, PortInUseError) as busy:
            if slot == LOCAL_SLOTS - 1:
                raise
            log.info("test stack slot %d is busy (%s); trying the next one", slot, busy)
            continue
        try:
            yield infra
        finally:
            await infra.__aexit__(None, None, None)
        return


class _Shared:
    """The servers of this process and how many callers use them."""

    users = 0
    current: TestInfrastructure | None = None
    stack: contextlib.AsyncExitStack | None = None
    lock = asyncio.Lock()


@contextlib.asynccontextmanager
async def provide_infrastructure() -> AsyncIterator[TestInfrastructure]:
    """Kafka and PostgreSQL for tests, started on first use and stopped after the last."""
    async with _Shared.lock:
        if _Shared.current is None:
            stack = contextlib.AsyncExitStack()
            _Shared.current = await stack.enter_async_context(_provide())
            _Shared.stack = stack
        _Shared.users += 1
        current = _Shared.current
    try:
        yield current
    finally:
        async with _Shared.lock:
            _Shared.users -= 1
            if _Shared.users == 0 and _Shared.stack is not None:
                stack, _Shared.stack, _Shared.current = _Shared.stack, None, None
                await stack.aclose()


@contextlib.asynccontextmanager
async def provide_cluster_infrastructure(brokers: int = 3) -> AsyncIterator[TestInfrastructure]:
    """A local KRaft cluster of ``brokers`` combined nodes (its own slot, formatted anew), with
    the test session's PostgreSQL; stopped on exit. Topics need
    :meth:`TestInfrastructure.topic_settings` (3 replicas, 2 in sync)."""
    async with provide_infrastructure() as session:

        def cluster(slot: int) -> LocalInfrastructure:
            return LocalInfrastructure(
                TEST_ROOT / f"cluster-{slot}",
                kafka_port=LOCAL_KAFKA_PORT + 100 * slot + CLUSTER_PORT_OFFSET,
                cache_dir=DEFAULT_CACHE,
                postgres_admin_url=session.postgres_admin_url,
                kafka_brokers=brokers,
                kafka_fresh=True,
            )

        async with _first_free_slot(cluster) as infra:
            yield TestInfrastructure("local", infra)
