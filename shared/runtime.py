"""The running parts every service has, started and stopped together in the app's lifespan:
database engine, producer, outbox relay, consumer runners, API-key auth fed by the credential
registry, readiness checks."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared.auth import ApiKeyStore, Authenticator, Role, RoleGate
from shared.auth.feed import CredentialFeed
from shared.auth.registry import credentials_topic, ensure_credentials_topic
from shared.db.engine import create_engine, create_session_factory, database_is_reachable
from shared.db.migrations import upgrade_to_head
from shared.db.retention import RetentionJob, RetentionRule, inbox_rule, outbox_rule
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic, dead_letter_topic
from shared.http.health import ReadinessCheck, TaskReport
from shared.kafka.admin import ensure_topics
from shared.kafka.consumer import ConsumerRunner
from shared.kafka.faults import is_broker_unavailable
from shared.kafka.handlers import EventHandlers, U
from shared.kafka.outbox import OutboxRelay, RelayHold
from shared.kafka.producer import create_producer
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

CRASH_LOOP_FAILURES = 5  # failures in a row, each soon after its start, make a crash loop
STABLE_SECONDS = 60.0  # a run this long before failing starts a new count


@dataclass(slots=True)
class TaskState:
    """What the supervisor knows of one background task."""

    name: str
    forever: bool = True  # False: a task that is done once it returns (starting the producer)
    liveness: bool = True  # whether its crash loop makes the process unhealthy
    crash_loop_failures: int = CRASH_LOOP_FAILURES
    running: bool = False
    returned: bool = False
    restarts: int = 0
    failures_in_a_row: int = 0  # not counting those of the broker being unreachable
    broker_failures_in_a_row: int = 0  # the last failures, while Kafka could not be reached
    last_error: str | None = None

    @property
    def crash_looping(self) -> bool:
        return self.failures_in_a_row >= self.crash_loop_failures

    @property
    def healthy(self) -> bool:
        """Not crash-looping, and not stopped if it was meant to run for good."""
        return not self.liveness or not (self.crash_looping or (self.forever and self.returned))

    def record_failure(self, error: Exception, *, after_a_stable_run: bool) -> None:
        """Count a failure. A run that lasted starts a new count; a failure because Kafka
        cannot be reached is counted apart, never toward a crash loop: Kafka away is not this
        task broken, and it is retried for as long as the outage lasts (readiness says so)."""
        self.running = False
        self.restarts += 1
        self.last_error = repr(error)
        if after_a_stable_run:
            self.failures_in_a_row = self.broker_failures_in_a_row = 0
        if is_broker_unavailable(error):
            self.broker_failures_in_a_row += 1
        else:
            self.broker_failures_in_a_row = 0
            self.failures_in_a_row += 1

    def report(self) -> TaskReport:
        return {
            "running": self.running,
            "returned": self.returned,
            "restarts": self.restarts,
            "crash_looping": self.crash_looping,
            "broker_failures_in_a_row": self.broker_failures_in_a_row,
            "last_error": self.last_error,
        }


class ServiceRuntime:
    # How a failed background task is restarted and when its failures make a crash loop
    # (instance attributes a test may shorten).
    restart_backoff = 0.5  # seconds before a failed background task's first restart
    max_restart_backoff = 10.0  # the pause doubles after each failure up to this
    crash_loop_failures = CRASH_LOOP_FAILURES
    stable_seconds = STABLE_SECONDS

    def __init__(
        self, name: str, settings: ServiceSettings, migrations: Path, roles: Iterable[Role]
    ) -> None:
        """``roles``: the roles whose keys this service serves (any other role's key is 403)."""
        self.name = name
        self.settings = settings
        self._migrations = migrations
        self.kafka = settings.kafka_connection()
        self.database_tls = settings.postgres_tls()
        self.engine = create_engine(
            settings.database_url, settings.database_pool_size, tls=self.database_tls
        )
        self.sessions = create_session_factory(self.engine)
        self.read_engine = create_engine(
            settings.database_url,
            max(2, settings.database_pool_size // 2),
            tls=self.database_tls,
            autocommit=True,
        )
        # Sessions for hot single-statement reads (an agency's list, an auditor's proof): no
        # transaction around them; anything that writes or reads twice uses ``sessions``.
        self.reads = create_session_factory(self.read_engine)
        self._producer: AIOKafkaProducer | None = None
        self._relay_producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self._subscriptions: list[
            tuple[str, list[str], EventHandlers[Any], Callable[[], UnitOfWork]]
        ] = []
        self._workers: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        keys = ApiKeyStore(self.sessions)
        self.auth = Authenticator(keys, roles)
        self.credentials = CredentialFeed(
            self.kafka,
            credentials_topic(settings.topic_namespace),
            keys,
            self.auth.forget,
            client_id=f"{name}-credentials",
        )
        self.consumers: list[ConsumerRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.task_states: dict[str, TaskState] = {}
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

    def operator_gate(self) -> RoleGate:
        """What admits operator keys only (``/metrics``); the service must serve the role."""
        return self.auth.require(Role.OPERATOR)

    def topic(self, topic: Topic) -> str:
        return topic.qualified(self.settings.topic_namespace)

    def units_of_work(self, kind: type[U]) -> Callable[[], U]:
        """Units of work of ``kind`` on this service's database, publishing on this
        deployment's topics; a commit that published wakes the outbox relay."""
        return lambda: kind(self.sessions, self.topic, on_commit=self._wake_relay)

    def _wake_relay(self) -> None:
        if self._relay is not None:
            self._relay.wake()

    def consume(
        self,
        group: str,
        topics: Sequence[Topic],
        handlers: EventHandlers[U],
        units: Callable[[], U],
    ) -> None:
        """Register a consumer group; the group id carries the topic namespace too. Each batch
        is applied in one unit of work from ``units``."""
        self._subscriptions.append(
            (
                f"{self.settings.topic_namespace}{group}",
                [self.topic(topic) for topic in topics],
                handlers,
                units,
            )
        )

    @property
    def subscriptions(self) -> list[tuple[str, list[str], frozenset[str]]]:
        """Each consumer group: its id, its topics and the event types it handles."""
        return [(group, topics, handler.types) for group, topics, handler, _ in self._subscriptions]

    def work(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a service's own background loop (a sender, a scheduler), supervised like the
        relay and the consumers: restarted if it fails, reported by ``/healthz``."""
        self._workers.append((name, run))

    def close_on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Release a service's own client (an HTTP pool, an SMTP connection) when it stops."""
        self._closers.append(close)

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
            await upgrade_to_head(
                self._migrations, self.settings.database_url, tls=self.database_tls
            )
        self._producer = create_producer(self.kafka, client_id=self.name)
        self._relay_producer = create_producer(self.kafka, client_id=f"{self.name}-outbox")
        hold = self.settings.fault_outbox_hold
        self._relay = OutboxRelay(
            self.sessions,
            self._relay_producer,
            renew_producer=self._renew_relay_producer,
            hold=RelayHold(hold, self.settings.fault_outbox_hold_seconds) if hold else None,
        )
        self.consumers = [
            ConsumerRunner(
                group_id=group,
                topics=topics,
                kafka=self.kafka,
                sessions=self.sessions,
                units=units,
                handlers=handlers,
                dead_letters=self._producer,
            )
            for group, topics, handlers, units in self._subscriptions
        ]
        # Kafka down is not this service down: the producer's failures never fail liveness.
        self._tasks.append(
            self.supervise("producer", self._start_producer, forever=False, liveness=False)
        )
        self._tasks.append(self.supervise("credentials", self._run_credentials))
        self._tasks.append(self.supervise("retention", self.retention.run))
        if relay:
            self._tasks.append(self.supervise("outbox-relay", self._run_relay))
        for runner in self.consumers:
            self._tasks.append(self.supervise(runner.group_id, self._runner_loop(runner)))
        for name, run in self._workers:
            self._tasks.append(self.supervise(name, run))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for close in self._closers:
            with contextlib.suppress(Exception):  # stopping anyway; a failed close loses nothing
                await close()
        for producer in (self._producer, self._relay_producer):
            if producer is not None:
                await producer.stop()
        await self.engine.dispose()
        await self.read_engine.dispose()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start(relay=self.settings.outbox_relay)
        try:
            yield
        finally:
            await self.stop()

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """What the entry points need: the database; the credential registry read to its end
        once since this process started (a replica must not serve a key revoked while it was
        down), unless Kafka has been unreachable since start, when keys are verified from the
        ``api_keys`` mirror; a consuming service also needs its consumer groups joined. Kafka
        itself is not checked: the outbox holds what a service publishes while the broker is
        away, so a broker outage never takes intake out."""

        async def database() -> bool:
            return await database_is_reachable(self.engine)

        async def credentials() -> bool:
            return self.credentials.caught_up.is_set() or self._broker_unreachable_since_start()

        async def consumers() -> bool:
            return bool(self.consumers) and all(runner.is_healthy() for runner in self.consumers)

        checks: dict[str, ReadinessCheck] = {"database": database, "credentials": credentials}
        if self._subscriptions:
            checks["consumers"] = consumers
        return checks

    def _broker_unreachable_since_start(self) -> bool:
        producer = self.task_states.get("producer")
        return not self._producer_started.is_set() and bool(producer and producer.restarts)

    def liveness(self) -> tuple[bool, Mapping[str, TaskReport]]:
        """Alive unless a background task is crash-looping or has stopped for good."""
        states = list(self.task_states.values())
        return all(state.healthy for state in states), {s.name: s.report() for s in states}

    def topic_names(self) -> list[str]:
        """Every platform topic, plus the dead-letter topic of each of this service's groups."""
        names = [self.topic(topic) for topic in Topic]
        for runner in self.consumers:
            names += [dead_letter_topic(topic, runner.group_id) for topic in runner.topics]
        return names

    async def _start_producer(self) -> None:
        await ensure_credentials_topic(
            self.kafka,
            credentials_topic(self.settings.topic_namespace),
            replication_factor=self.settings.topic_replication_factor,
            min_insync_replicas=self.settings.topic_min_insync_replicas,
        )
        await ensure_topics(
            self.kafka,
            self.topic_names(),
            self.settings.topic_partitions,
            replication_factor=self.settings.topic_replication_factor,
            min_insync_replicas=self.settings.topic_min_insync_replicas,
        )
        await self.producer.start()
        if self._relay_producer is not None:
            await self._relay_producer.start()
        self._producer_started.set()

    async def _renew_relay_producer(self, old: AIOKafkaProducer) -> AIOKafkaProducer:
        """The relay's own producer (dead letters keep theirs), made anew with a new id."""
        self._relay_producer = create_producer(self.kafka, client_id=f"{self.name}-outbox")
        await self._relay_producer.start()
        with contextlib.suppress(Exception):  # it is broken; closing it is a courtesy
            await old.stop()
        return self._relay_producer

    async def _run_credentials(self) -> None:
        await self._producer_started.wait()  # the credentials topic exists
        await self.credentials.run()

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

    def supervise(
        self,
        what: str,
        run: Callable[[], Awaitable[None]],
        *,
        forever: bool = True,
        liveness: bool = True,
    ) -> asyncio.Task[None]:
        """Run a background part; if it fails, log it and start it again after a pause. Its
        state (running, restarts, last error, crash loop) is kept in ``task_states``."""
        state = self.task_states[what] = TaskState(
            what,
            forever=forever,
            liveness=liveness,
            crash_loop_failures=self.crash_loop_failures,
        )

        async def supervised() -> None:
            backoff = self.restart_backoff
            while True:
                started = time.monotonic()
                state.running = True
                try:
                    await run()
                    state.running, state.returned = False, True
                    return
                except asyncio.CancelledError:
                    state.running = False
                    raise
                except Exception as error:
                    stable = time.monotonic() - started >= self.stable_seconds
                    if stable:
                        backoff = self.restart_backoff
                    state.record_failure(error, after_a_stable_run=stable)
                    if state.broker_failures_in_a_row:
                        log.warning("Kafka unreachable; retrying", task=what, error=repr(error))
                    else:
                        log.error(
                            "background task failed; restarting", task=what, error=repr(error)
                        )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_restart_backoff)

        return asyncio.create_task(supervised(), name=f"{self.name}:{what}")
