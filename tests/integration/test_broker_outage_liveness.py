"""A long broker outage is not the service down: while Kafka is away a consuming service's
consumer task keeps retrying, reports its failures and drops out of readiness, but ``/healthz``
stays 200 for longer than a crash loop would take; once Kafka is back the group consumes
again.

Stopping the broker needs the local stack (``tests/infrastructure.py``): run this file without
``COLLECTIONS_TEST_KAFKA_BOOTSTRAP``/``COLLECTIONS_TEST_POSTGRES_URL``; with them it is skipped.
"""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from shared.auth import Role
from shared.db.kit_tables import KIT_METADATA
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.http.health import health_router
from shared.kafka.producer import create_producer
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.consumer_process import TEST_METADATA, effect_handlers, effects
from tests.integration.test_consumer_runner import envelope

GROUP = "outage-probe"
# Fast restarts, so that a crash loop, if broker failures made one, would show in seconds.
CRASH_LOOP_FAILURES = 3
RESTART_BACKOFF = 0.05
MAX_RESTART_BACKOFF = 0.2
OUTAGE_FAILURES = 3 * CRASH_LOOP_FAILURES  # well past a crash loop's worth of failures
_NO_MIGRATIONS = Path(".")  # the fixture creates the kit tables itself


@pytest.fixture
async def consuming_service(
    infrastructure: TestInfrastructure,
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    """A service runtime with one consumer group over the loans topic (a namespace of its
    own), its health probes served over ASGI."""
    database = f"outage_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    settings = ServiceSettings(
        database_url=infrastructure.postgres_url(database),
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap,
        topic_namespace=f"outage{uuid4().hex[:8]}.",
    )
    runtime = ServiceRuntime("outage", settings, _NO_MIGRATIONS, [Role.LENDER])
    runtime.crash_loop_failures = CRASH_LOOP_FAILURES
    runtime.restart_backoff = RESTART_BACKOFF
    runtime.max_restart_backoff = MAX_RESTART_BACKOFF
    group = f"{settings.topic_namespace}{GROUP}"
    runtime.consume(GROUP, [Topic.LOANS], effect_handlers(group), runtime.units_of_work(UnitOfWork))
    async with runtime.engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.create_all)
        await connection.run_sync(TEST_METADATA.create_all)
    app = FastAPI()
    app.include_router(health_router(runtime.readiness_checks(), runtime.liveness))
    await runtime.start(migrate=False, relay=False)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://outage"
        ) as client:
            yield runtime, client
    finally:
        await runtime.stop()


@pytest.mark.faults
async def test_a_long_broker_outage_keeps_the_service_alive_and_consuming_after(
    infrastructure: TestInfrastructure,
    consuming_service: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    if not infrastructure.can_restart_kafka:
        pytest.skip("stopping Kafka needs the local stack: run without COLLECTIONS_TEST_* set")
    runtime, client = consuming_service
    topic = runtime.topic(Topic.LOANS)
    await eventually(lambda: _status(client, "/readyz", 200), within=60)
    await _publish(infrastructure.kafka_bootstrap, topic, before := envelope("k-before", 1))
    await eventually(lambda: _applied(runtime, before.id), within=30)

    consumer = runtime.task_states[f"{runtime.settings.topic_namespace}{GROUP}"]
    restarts_before = consumer.restarts
    await infrastructure.stop_kafka()
    try:
        outage_started = time.monotonic()
        # The consumer starts over during the outage, as it does after any failure of its own:
        # its client is gone, and every new one finds no broker.
        await runtime.consumers[0].stop()

        async def failed_many_times_and_alive() -> bool:
            alive = await client.get("/healthz")
            assert alive.status_code == 200, alive.text
            return consumer.restarts - restarts_before >= OUTAGE_FAILURES

        await eventually(failed_many_times_and_alive, within=120, interval=0.2)
        outage_seconds = time.monotonic() - outage_started
        report = (await client.get("/healthz")).json()["tasks"][consumer.name]
        assert report["crash_looping"] is False
        assert report["broker_failures_in_a_row"] >= OUTAGE_FAILURES - 1, report
        assert "KafkaConnectionError" in report["last_error"], report
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503, not_ready.text
        assert not_ready.json()["checks"]["consumers"] == "failing"
    finally:
        await infrastructure.start_kafka()

    await eventually(lambda: _status(client, "/readyz", 200), within=90)
    await _publish(infrastructure.kafka_bootstrap, topic, after := envelope("k-after", 2))
    await eventually(lambda: _applied(runtime, after.id), within=60)
    alive = await client.get("/healthz")
    assert alive.status_code == 200, (alive.text, outage_seconds)


async def test_a_consumer_failing_for_another_reason_still_crash_loops(
    infrastructure: TestInfrastructure,
    consuming_service: tuple[ServiceRuntime, httpx.AsyncClient],
) -> None:
    """The database gone from under a consumer (its inbox dropped) is not the broker: the
    failures count, and the process reports itself failing."""
    runtime, client = consuming_service
    await eventually(lambda: _status(client, "/readyz", 200), within=60)
    async with runtime.engine.begin() as connection:
        await connection.run_sync(KIT_METADATA.tables["inbox"].drop)
    topic = runtime.topic(Topic.LOANS)
    for seq in range(CRASH_LOOP_FAILURES + 1):
        await _publish(infrastructure.kafka_bootstrap, topic, envelope(f"k-{seq}", seq))
    await eventually(lambda: _status(client, "/healthz", 503), within=60)


async def _status(client: httpx.AsyncClient, path: str, expected: int) -> bool:
    return (await client.get(path)).status_code == expected


async def _publish(bootstrap: str, topic: str, event: Envelope) -> None:
    producer = create_producer(bootstrap, client_id="outage-test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=event.to_bytes(), key=event.subject.encode())
    finally:
        await producer.stop()


async def _applied(runtime: ServiceRuntime, event_id: UUID) -> bool:
    async with runtime.engine.connect() as connection:
        found = await connection.scalar(select(effects.c.id).where(effects.c.event_id == event_id))
    return found is not None
