"""The worst day, end to end: the whole platform as processes (one intake, two replicas of each
consumer service, so two notifier senders) takes reports, payments, holds, agency activities
and STOP replies while, one at a time, each service is SIGKILLed and restarted, intake is
killed between its commit and the publish (and between the publish and its mark), the broker
is killed and restarted, compliance's database is unreachable for 20 s, the providers answer
5xx in bursts, late, or accept and answer after the client gave up, and poison messages land
on the loans topic. Then the invariant checker (``tests/invariants.py``) reads every database
and the providers' journal; each test below asserts one invariant of that one run.

It runs twice (the module fixture is parametrized): ``[one-broker]`` on the session's broker,
killed and restarted whole; ``[three-brokers]`` on a three-broker KRaft cluster (every topic 3
replicas, ``min.insync.replicas`` 2), one broker SIGKILLed while the process faults go on and
started again after them. Each run's counts are printed (``-s``) and quoted in
docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import DEMO_LENDER
from services.compliance.cli.verify import VerificationError, verify_log
from services.compliance.consumer import AUDITED_TOPICS
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.kafka.dead_letters import read_dead_letters
from shared.tlog.note import Verifier
from tests.e2e.fault_driver import Driver
from tests.e2e.process_platform import REPO, ProcessPlatform, Replica, process_platform
from tests.infrastructure import TestInfrastructure
from tests.invariants import Findings, Snapshot, check, read_snapshot
from tests.support.topics import Replication, replication_of

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

HTTP_TIMEOUT = 2.0  # the notifier's provider timeout in this run
LATE = 4.0  # an ambiguous answer comes this late: after the client gave up
SEND_MARGIN = timedelta(seconds=HTTP_TIMEOUT + LATE + 4)  # longest send begun before a stop
SETTINGS: dict[str, dict[str, Any]] = {
    "notifier": {
        "http_timeout_seconds": HTTP_TIMEOUT,
        "twilio_rate_per_second": 200.0,
        "smtp_rate_per_second": 200.0,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 1.0,
        "sender_lease_seconds": 8.0,
        # An SMTP send answered after the timeout cannot be looked up: counted as sent (never
        # repeated) after this. At the default 600 s the run never settled before the checker.
        "sender_unconfirmed_after_seconds": 20.0,
        "sender_batch_size": 20,
    },
    "agency_gateway": {"placement_idle_seconds": 0.2, "webhook_idle_seconds": 0.5},
}


def poison_messages() -> list[tuple[bytes, bytes]]:
    """(key, value): bad JSON, an unknown schema version, a valid envelope with invalid data."""

    def envelope(subject: str, version: int, data: dict[str, Any]) -> Envelope:
        return Envelope(
            id=uuid4(),
            source="/fault-suite",
            type=OVERDUE_REPORTED.name,
            time=datetime.now(UTC),
            subject=subject,
            schemaversion=version,
            tenantid=DEMO_LENDER,
            data=data,
        )

    unknown_version = envelope("L-POISON-VERSION", 99, {"loan_id": "L-POISON-VERSION"})
    invalid_data = envelope("L-POISON-DATA", OVERDUE_REPORTED.version, {"loan_id": 5})
    return [
        (b"lender-demo/L-POISON-JSON", b'{"specversion": "1.0", "id": "not json at all'),
        (unknown_version.key.encode(), unknown_version.to_bytes()),
        (invalid_data.key.encode(), invalid_data.to_bytes()),
    ]


class Timeline(list[str]):
    """What happened in a run, each entry stamped with the seconds since the run began (a
    fault when it is over: a process back, a database reachable again)."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started

    def append(self, entry: str) -> None:
        super().append(f"{time.monotonic() - self.started:4.0f} s  {entry}")


@dataclass
class Run:
    platform: ProcessPlatform
    findings: Findings
    snapshot: Snapshot
    seconds: float
    faults: list[str] = field(default_factory=list)
    replay: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, Replication] = field(default_factory=dict)  # the run's, as created
    needed: Replication = (frozenset({1}), "1")  # what this Kafka needs


def marker_after(log: Path, offset: int, marker: str) -> bool:
    with log.open("rb") as handle:
        handle.seek(offset)
        return marker.encode() in handle.read()


async def until(probe: Any, within: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        assert time.monotonic() < deadline, f"{probe.__name__} not within {within} s"
        await asyncio.sleep(interval)


async def kill_and_restart(replica: Replica, faults: list[str]) -> None:
    await replica.kill()
    await asyncio.sleep(2.0)
    replica.start()
    await replica.ready()
    faults.append(f"SIGKILL + restart {replica.name}")


async def kill_intake_at(platform: ProcessPlatform, point: str, faults: list[str]) -> None:
    """Intake restarted with the relay's fault hold at ``point``, killed once a batch sits
    there (committed but not published, or published but not marked), then started plainly."""
    intake = platform.first("intake")
    offset = intake.log_path.stat().st_size
    await intake.stop()
    intake.start(fault_outbox_hold=point, fault_outbox_hold_seconds=120)
    await intake.ready()

    async def held() -> bool:
        return marker_after(intake.log_path, offset, "outbox fault hold")

    await until(held, within=60)
    await asyncio.sleep(1.0)  # a few more commits land behind the held batch
    await intake.kill()
    intake.start()
    await intake.ready()
    faults.append(f"intake SIGKILLed {point.replace('-', ' ')}")


async def provider_faults(platform: ProcessPlatform, faults: list[str]) -> None:
    async with httpx.AsyncClient(base_url=platform.providers_url) as client:
        for fault in (
            {"provider": "twilio", "status": 503, "for_seconds": 4},
            {"provider": "smtp", "status": 451, "count": 5},
            {"provider": "twilio", "delay_seconds": LATE, "after_accept": True, "count": 3},
            {"provider": "smtp", "delay_seconds": LATE, "after_accept": True, "count": 3},
            {"provider": "twilio", "delay_seconds": HTTP_TIMEOUT / 2, "count": 5},
        ):
            answer = await client.post("/v1/faults", json=fault)
            assert answer.status_code == 200, answer.text
            faults.append(f"providers: {fault}")
            await asyncio.sleep(5.0)
        applied = (await client.get("/v1/faults")).json()
    faults.append(f"provider faults applied: { {p: f['applied'] for p, f in applied.items()} }")


async def publish_poison(platform: ProcessPlatform, topic: str) -> list[bytes]:
    messages = poison_messages()
    producer = AIOKafkaProducer(bootstrap_servers=platform.infrastructure.kafka_bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    return [value for _, value in messages]


async def quiet(platform: ProcessPlatform, snapshot_of: Any) -> tuple[Snapshot, list[str]]:
    """Wait until nothing is left to do: outboxes drained, every inbox complete, no reminder
    due and unsettled; then the snapshot, and what was still left if that took over 120 s."""
    notifier = create_async_engine(platform.database_urls["notifier"])
    try:
        waiting_for: list[str] = []

        async def settled() -> bool:
            async with notifier.connect() as connection:
                due = (
                    await connection.execute(
                        text(
                            "SELECT kind, channel, count(*), min(due_at), max(attempts) "
                            "FROM notifications WHERE status = 'scheduled' AND due_at <= now() "
                            "GROUP BY kind, channel"
                        )
                    )
                ).all()
            if due:
                waiting_for[:] = [f"due: {list(row)}" for row in due]
                return False
            findings = check(await snapshot_of())
            waiting_for[:] = [
                str(v)[:300]
                for name in ("outbox_drained", "inbox_exactly_once")
                for v in findings.violations[name][:3]
            ]
            return not waiting_for

        with contextlib.suppress(AssertionError):  # what is still missing, the checker says
            await until(settled, within=120, interval=3.0)
    finally:
        await notifier.dispose()
    snapshot: Snapshot = await snapshot_of()
    return snapshot, waiting_for


async def audit_verification(platform: ProcessPlatform) -> str:
    headers = {"Authorization": f"Bearer {platform.auditor_of_every_lender.api_key}"}
    async with httpx.AsyncClient(
        base_url=platform.first("compliance").url, headers=headers, timeout=60
    ) as client:
        key = (await client.get("/v1/audit/public-key")).json()["verifier_key"]
        try:
            report = await verify_log(client, Verifier.parse(key), full=True)
        except VerificationError as error:
            return str(error)
    return "" if report.entries_proven == report.checkpoint.size else "nothing proven"


async def replay_dead_letters(platform: ProcessPlatform, topic: str, group: str) -> str:
    """The operator's command, as a process: ``collections dead-letters replay``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        "dead-letters",
        "replay",
        "--topic",
        topic,
        "--group",
        group,
        cwd=REPO,
        env=os.environ
        | {"COLLECTIONS_KAFKA_BOOTSTRAP_SERVERS": platform.infrastructure.kafka_bootstrap},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


class BrokerFault:
    """The broker fault of a run on one broker: the process faults first, then the broker
    SIGKILLed and started again 3 s later (every client loses Kafka for a while)."""

    def __init__(self, infrastructure: TestInfrastructure) -> None:
        self.infrastructure = infrastructure

    async def before_process_faults(self, faults: list[str]) -> None:
        return None

    async def after_process_faults(self, faults: list[str]) -> None:
        await self.infrastructure.kill_kafka()
        await asyncio.sleep(3.0)
        await self.infrastructure.start_kafka()
        faults.append("Kafka SIGKILLed, restarted 3 s later")


class OneOfThreeBrokersDown(BrokerFault):
    """On a three-broker cluster: broker 1 (the first bootstrap address) SIGKILLed before the
    process faults, so every service kill, restart and rebalance happens on two brokers (its
    partitions' leadership moved, the quorum down to two voters), and started again after."""

    NODE = 1

    async def before_process_faults(self, faults: list[str]) -> None:
        await self.infrastructure.kill_kafka_node(self.NODE)
        self.killed_at = time.monotonic()

    async def after_process_faults(self, faults: list[str]) -> None:
        await self.infrastructure.start_kafka_node(self.NODE)
        down = time.monotonic() - self.killed_at
        faults.append(f"Kafka broker {self.NODE} of 3 SIGKILLed, back {down:.0f} s later")


@pytest.fixture(scope="module", params=["one-broker", "three-brokers"])
def kafka_under_test(request: pytest.FixtureRequest) -> tuple[TestInfrastructure, BrokerFault]:
    """The suite runs twice: on the session's broker, then on a three-broker KRaft cluster
    (every topic 3 replicas, 2 in sync) with one broker down through the process faults."""
    if request.param == "one-broker":
        infrastructure: TestInfrastructure = request.getfixturevalue("infrastructure")
        if not infrastructure.can_restart_kafka:
            pytest.skip("the fault suite restarts the broker: it needs the local stack")
        return infrastructure, BrokerFault(infrastructure)
    cluster: TestInfrastructure = request.getfixturevalue("cluster_infrastructure")
    return cluster, OneOfThreeBrokersDown(cluster)


@pytest.fixture(scope="module")
async def run(
    kafka_under_test: tuple[TestInfrastructure, BrokerFault],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Run]:
    infrastructure, broker_fault = kafka_under_test
    started = time.monotonic()
    logs = tmp_path_factory.mktemp("fault-suite")
    async with process_platform(infrastructure, logs, SETTINGS, witness=True) as platform:
        loans_topic = Topic.LOANS.qualified(platform.namespace)
        subscriptions = platform.subscriptions()
        consumers = [
            (service, group, topics, types)
            for service, groups in subscriptions.items()
            for group, topics, types in groups
        ]
        audited = [topic.qualified(platform.namespace) for topic in AUDITED_TOPICS]
        poison: list[bytes] = []
        audit = ""

        async def snapshot_of() -> Snapshot:
            snapshot = await read_snapshot(
                platform.database_urls,
                consumers,
                audited,
                f"{platform.providers_url}/v1/messages",
                platform.infrastructure.kafka_bootstrap,
                loans_topic,
                poison,
                SEND_MARGIN,
            )
            snapshot.audit_verification = audit
            return snapshot

        notifier_db = create_async_engine(platform.database_urls["notifier"])
        driver = Driver(platform, notifier_db)
        faults = Timeline(started)
        faults.append(
            f"platform up; traffic starts ({len(infrastructure.kafka_node_ids)} broker(s))"
        )
        stop = asyncio.Event()
        traffic = asyncio.create_task(driver.run(stop))
        try:
            await asyncio.sleep(6.0)
            await broker_fault.before_process_faults(faults)
            for service in ("intake", "notifier", "agency_gateway", "compliance"):
                await kill_and_restart(platform.first(service), faults)
                await asyncio.sleep(3.0)
            for point in ("before-publish", "after-publish"):
                await kill_intake_at(platform, point, faults)
                await asyncio.sleep(2.0)
            await broker_fault.after_process_faults(faults)
            await asyncio.sleep(5.0)
            platform.proxies["compliance"].cut()
            await asyncio.sleep(20.0)
            platform.proxies["compliance"].restore()
            faults.append("compliance's database unreachable for 20 s")
            await provider_faults(platform, faults)
            poison.extend(await publish_poison(platform, loans_topic))
            faults.append(f"{len(poison)} poison messages on {loans_topic}")
            await asyncio.sleep(3.0)
        finally:
            stop.set()
            await traffic
        for replica in (r for group in platform.replicas.values() for r in group):
            assert replica.process is not None
            assert replica.process.running(), replica.name
        faults.append("traffic stopped")
        snapshot, left = await quiet(platform, snapshot_of)
        faults.append(f"not quiet after 120 s: {'; '.join(left)}" if left else "quiet")
        audit = await audit_verification(platform)
        snapshot.audit_verification = audit
        findings = check(snapshot)
        findings.counts["driver: " + ", ".join(f"{k} {v}" for k, v in driver.done.items())] = 0
        findings.counts["driver retries (service away)"] = driver.retries
        findings.counts["driver gave up"] = sum(driver.gave_up.values())
        findings.counts["loans reported"] = len(driver.loans)
        topics = await replication_of(
            infrastructure.kafka_bootstrap, lambda name: name.startswith(platform.namespace)
        )
        for (replicas, min_insync), count in Counter(topics.values()).items():
            findings.counts[f"topics with {sorted(replicas)} replicas, min ISR {min_insync}"] = (
                count
            )

        group = next(g for s, g, t, _ in consumers if s == "compliance")
        faults.append("checked")
        printed = await replay_dead_letters(platform, loans_topic, group)
        poison_groups = snapshot.dead_letter_groups
        kafka = platform.infrastructure.kafka_bootstrap

        async def retried_by_every_group() -> bool:
            for name in poison_groups:
                letters = await read_dead_letters(kafka, loans_topic, name)
                if len(letters) < 2 * len(poison):
                    return False
            return True

        with contextlib.suppress(AssertionError):
            await until(retried_by_every_group, within=60, interval=2.0)
        after = await snapshot_of()
        replay = {
            "command": printed.strip().splitlines()[-1],
            "dead letters after": {
                name: len(await read_dead_letters(kafka, loans_topic, name))
                for name in poison_groups
            },
            "findings after": check(after),
        }
        await notifier_db.dispose()
        faults.append("replayed and checked again")
        seconds = time.monotonic() - started
        brokers = len(infrastructure.kafka_node_ids)
        print(f"\nfault suite on {brokers} broker(s): {seconds:.0f} s; what happened when:")
        print("\n".join(f"  {fault}" for fault in faults))
        print("invariant checker saw:")
        print(findings.summary())
        print(f"replay: {replay['command']}; dead letters after: {replay['dead letters after']}")
        settings = infrastructure.topic_settings()
        needed = (
            frozenset({settings["topic_replication_factor"]}),
            str(settings["topic_min_insync_replicas"]),
        )
        yield Run(platform, findings, snapshot, seconds, faults, replay, topics, needed)


def test_every_topic_has_the_replication_the_kafka_needs(run: Run) -> None:
    """One broker: 1 replica; the cluster: 3, with 2 in sync (dead-letter and credential
    topics included)."""
    assert len(run.topics) > len(Topic)
    assert set(run.topics.values()) == {run.needed}


def test_no_event_committed_and_left_unpublished(run: Run) -> None:
    assert run.findings.violations["outbox_drained"] == []


def test_every_accepted_event_is_applied_once_by_each_consumer(run: Run) -> None:
    assert run.findings.violations["inbox_exactly_once"] == []
    assert run.findings.counts["compliance inbox: applied"] > 0


def test_the_audit_log_verifies_and_holds_each_event_once(run: Run) -> None:
    assert run.findings.violations["audit_once"] == []
    assert run.findings.counts["audit entries"] >= run.findings.counts["compliance inbox: applied"]


def test_no_notification_is_delivered_twice(run: Run) -> None:
    assert run.findings.violations["no_double_delivery"] == []
    assert run.findings.counts["messages accepted by providers"] > 0


def test_a_notification_recorded_sent_went_out(run: Run) -> None:
    assert run.findings.violations["sent_is_witnessed"] == []


def test_no_message_began_after_the_notifier_recorded_the_stop(run: Run) -> None:
    assert run.findings.violations["no_send_after_stop"] == []
    assert run.findings.counts["notifications cancelled"] > 0
    assert run.findings.counts["STOP replies recorded"] > 0


def test_the_dead_letter_topics_hold_exactly_the_poison_with_reasons(run: Run) -> None:
    assert run.findings.violations["dead_letters_are_the_poison"] == []
    assert len(run.snapshot.dead_letter_groups) == 3


def test_the_replay_command_brings_the_dead_letters_back(run: Run) -> None:
    assert run.replay["command"] == f"{len(run.snapshot.poison)} replayed onto " + (
        Topic.LOANS.qualified(run.platform.namespace)
    )
    # Still poison after the replay (nothing was fixed): every group tried each again and
    # dead-lettered it again, applying nothing and losing nothing.
    assert set(run.replay["dead letters after"].values()) == {2 * len(run.snapshot.poison)}
    after: Findings = run.replay["findings after"]
    assert after.violations["inbox_exactly_once"] == []
    assert (
        after.counts["compliance inbox: applied"]
        == run.findings.counts["compliance inbox: applied"]
    )
