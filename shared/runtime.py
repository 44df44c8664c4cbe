"""The running parts every service has, started and stopped together in the app's lifespan:
database engine, producer, outbox relay, consumer runners, API-key auth, readiness checks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared.auth import ApiKeyStore, Authenticator
from shared.auth.revocations import RevocationListener
from shared.db.engine import create_engine, create_session_factory, database_is_reachable
from shared.db.migrations import upgrade_to_head
from shared.db.retention import RetentionJob, RetentionRule, inbox_rule, outbox_rule
from shared.events.topics import Topic, dead_letter_topic
from shared.http.health import ReadinessCheck
from shared.kafka.admin import broker_is_reachable, ensure_topics
from shared.kafka.consumer import ConsumerRunner
from shared.kafka.handlers import EventHandlers
from shared.kafka.outbox import OutboxRelay
from shared.kafka.producer import create_producer
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


class ServiceRuntime:
    def __init__(self, name: str, settings: ServiceSettings, migrations: Path) -> None:
        self.name = name
        self.settings = settings
        self._migrations = migrations
        self.engine = create_engine(settings.database_url, settings.database_pool_size)
        self.sessions = create_session_factory(self.engine)
        self._producer: AIOKafkaProducer | None = None
        self._relay_producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self._subscriptions: list[tuple[str, list[str], EventHandlers]] = []
        self.auth = Authenticator(ApiKeyStore(self.sessions))
        self.revocations = RevocationListener(
            settings.database_url, self.auth.forget, self.auth.forget_all
        )
        self.consumers: list[ConsumerRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._producer_started = asyncio.Event()
        self.retention = RetentionJob(
            self.engine,
            [
                outbox_rule(settings.outbox_retention_hours),
                inbox_rule(settings.inbox_retention_hours),
            ],
            batch_size=settings.retention_batch_size,
            interval=settings.retention_interval_seconds,
        )

    def topic(self, topic: Topic) -> str:
        return topic.qualified(self.settings.topic_namespace)

    def consume(self, group: str, topics: Sequence[Topic], handlers: EventHandlers) -> None:
        """Register a consumer group; the group id carries the topic namespace too."""
        self._subscriptions.append(
            (
                f"{self.settings.topic_namespace}{group}",
                [self.topic(topic) for topic in topics],
                handlers,
            )
        )

    def retain(self, rule: RetentionRule) -> None:
        """Have the retention job delete this service's own old rows too."""
        self.retention.rules.append(rule)

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._producer

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._relay

    async def start(self, *, migrate: bool = True, relay: bool = True) -> None:
        """Migrate, then start Kafka clients (aiokafka wants them made inside the loop)."""
        if migrate:
            await upgrade_to_head(self._migrations, self.settings.database_url)
        bootstrap = self.settings.kafka_bootstrap_servers
        self._producer = create_producer(bootstrap, client_id=self.name)
        self._relay_producer = create_producer(bootstrap, client_id=f"{self.name}-outbox")
        self._relay = OutboxRelay(
            self.sessions, self._relay_producer, renew_producer=self._renew_relay_producer
        )
        self.consumers = [
            ConsumerRunner(
                group_id=group,
                topics=topics,
                bootstrap_servers=bootstrap,
                sessions=self.sessions,
                handlers=handlers,
                dead_letters=self._producer,
            )
            for group, topics, handlers in self._subscriptions
        ]
        self._tasks.append(self._supervise("producer", self._start_producer))
        self._tasks.append(self._supervise("key-revocations", self.revocations.run))
        self._tasks.append(self._supervise("retention", self.retention.run))
        if relay:
            self._tasks.append(self._supervise("outbox-relay", self._run_relay))
        for runner in self.consumers:
            self._tasks.append(self._supervise(runner.group_id, self._runner_loop(runner)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for producer in (self._producer, self._relay_producer):
            if producer is not None:
                await producer.stop()
        await self.engine.dispose()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start(relay=self.settings.outbox_relay)
        try:
            yield
        finally:
            await self.stop()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        async def database() -> bool:
            return await database_is_reachable(self.engine)

        async def kafka() -> bool:
            return await broker_is_reachable(self.settings.kafka_bootstrap_servers)

        async def consumers() -> bool:
            return all(runner.is_healthy() for runner in self.consumers)

        return {"database": database, "kafka": kafka, "consumers": consumers}

    def topic_names(self) -> list[str]:
        """Every platform topic, plus the dead-letter topic of each of this service's groups."""
        names = [self.topic(topic) for topic in Topic]
        for runner in self.consumers:
            names += [dead_letter_topic(topic, runner.group_id) for topic in runner.topics]
        return names

    async def _start_producer(self) -> None:
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            self.topic_names(),
            self.settings.topic_partitions,
        )
        await self.producer.start()
        if self._relay_producer is not None:
            await self._relay_producer.start()
        self._producer_started.set()

    async def _renew_relay_producer(self, old: AIOKafkaProducer) -> AIOKafkaProducer:
        """The relay's own producer (dead letters keep theirs), made anew with a new id."""
        self._relay_producer = create_producer(
            self.settings.kafka_bootstrap_servers, client_id=f"{self.name}-outbox"
        )
        await self._relay_producer.start()
        with contextlib.suppress(Exception):  # it is broken; closing it is a courtesy
            await old.stop()
        return self._relay_producer

    async def _run_relay(self) -> None:
        await self._producer_started.wait()
        await self.relay.run()

    def _runner_loop(self, runner: ConsumerRunner) -> Callable[[], Awaitable[None]]:
        async def loop() -> None:
            await self._producer_started.wait()
            try:
                await runner.start()
                await runner.run()
            finally:
                await runner.stop()

        return loop

    def _supervise(self, what: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run a background part; if it fails, log it and start it again after a pause."""

        async def supervised() -> None:
            backoff = 0.5
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.error("background task failed; restarting", task=what, error=repr(error))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)

        return asyncio.create_task(supervised(), name=f"{self.name}:{what}")
