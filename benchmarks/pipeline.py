"""The whole platform on the local stack: ``python -m benchmarks.pipeline [--quick] [--json PATH]``.

Intake, the notifier, the agency gateway and compliance run as their own processes (as
``make run`` starts them) on Kafka and PostgreSQL of a local stack in ``.devstack-bench-pipeline/``
(or ``COLLECTIONS_KAFKA_BOOTSTRAP`` / ``COLLECTIONS_POSTGRES_URL``), each on a fresh database
and topic namespace. One run measures, each beside its raw limit measured in the same run:

- end to end: reports accepted by intake's batch API (``POST /v1/overdue-loans/batch``, 1,000 a
  request, several clients) until all three consumers recorded them: the notifier's loan file
  (its reminder plan is written in the same transaction), the gateway's case and placement,
  compliance's entry inside a signed checkpoint. Raw limit: the same messages produced with
  aiokafka and consumed by three bare consumer groups, each COPYing the same rows into a copy
  of its service's tables, while intake's rows are COPYed into intake's database;
- latency at a fixed offered load of 1,000 reports/s (100 every 100 ms): from the batch's
  acceptance (its 200 answer) to its recording: the notifier's and the gateway's inbox row for
  the event (``received_at``, the start of the transaction that applied it), the signing of
  the first checkpoint holding compliance's entry. Raw limit: produce -> consume p99 of the
  same messages at the same load, bare aiokafka;
- drain: a backlog of reports put on the loans topic while the three consumers are stopped
  (produced straight to Kafka with intake's contract and the platform's keys: intake's own rate
  is the batch figure); the time from their start until all three recorded it;
- peak RSS (``VmHWM``) of each service process;
- placement and audit append, from the gateway's and compliance's benchmark functions; intake
  batch, the end-to-end run's acceptance rate against a COPY of the rows intake wrote.

The notifier runs without its sender (sending is ``make bench-notifier``'s figure). Prints a
Markdown table of medians and ratios, with the gap to each aim; ``--json PATH`` writes them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
import psutil  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks import agency_gateway as gateway_bench
from benchmarks import compliance as compliance_bench
from benchmarks import intake as intake_bench
from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE, REPO_ROOT
from deploy.devstack.platform import (
    SERVICES,
    DemoCredentials,
    PlatformSecrets,
    Service,
    build_app,
    issue_demo_keys,
    service_environment,
    service_options,
)
from deploy.devstack.processes import ManagedProcess
from services.agency_gateway.consumer import GROUP as GATEWAY_GROUP
from services.compliance.consumer import GROUP as COMPLIANCE_GROUP
from services.compliance.wiring import MIGRATIONS as COMPLIANCE_MIGRATIONS
from services.intake.application.handlers import SOURCE as INTAKE_SOURCE
from services.notifier.consumer import GROUP as NOTIFIER_GROUP
from shared.crypto import KeyRing, Pseudonymizer
from shared.db.migrations import upgrade_to_head
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.envelope import message_key, new_envelope
from shared.events.models import BorrowerContact, BorrowerProfile, OverdueReported
from shared.events.topics import Topic
from shared.kafka.producer import create_producer
from shared.kafka.settings import KafkaSettings
from shared.tlog.note import Signer

BENCH_ROOT = REPO_ROOT / ".devstack-bench-pipeline"  # its own ports: runs beside the others
CONSUMERS = ("notifier", "agency_gateway", "compliance")
GROUPS = {
    "notifier": NOTIFIER_GROUP,
    "agency_gateway": GATEWAY_GROUP,
    "compliance": COMPLIANCE_GROUP,
}
# What each service writes for a report (the raw limit COPYs the same rows into copies).
TABLES = {
    "intake": ("loans", "loan_events"),
    "notifier": ("loans", "notifications"),
    "agency_gateway": ("collection_cases", "assignments"),
    "compliance": ("audit_entries",),
}
OFFERED_PER_S = 1000
TICK_S = 0.1
BATCH = 1000
MB = 1024 * 1024


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


class PipelineError(Exception):
    """The benchmark could not measure honestly (a report lost, a process gone, a timeout)."""


# Pure parts: percentiles, ratios, the table and the JSON (unit-tested).


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks; NaN without samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(value: float, limit: float) -> float:
    return value / limit if limit else float("nan")


@dataclass(frozen=True)
class Aim:
    """A ratio's aim: ``at_least`` (ratio >= bound) or at most (ratio <= bound)."""

    bound: float
    at_least: bool

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def gap(self, value: float) -> str:
        """How far the ratio is from the aim: 'met', else the factor still to gain."""
        if value != value:  # NaN
            return "not measured"
        if self.met(value):
            return "met"
        factor = self.bound / value if self.at_least else value / self.bound
        return f"{factor:.1f}x to go"

    def __str__(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.bound:g}"


AIMS = {
    "end_to_end": Aim(0.5, at_least=True),
    "latency": Aim(20, at_least=False),  # p99 / raw produce->consume p99
    "rss": Aim(1.0, at_least=False),  # peak RSS / the issue's 250 MB per service
    "placement": Aim(0.5, at_least=True),
    "intake_batch": Aim(0.5, at_least=True),
    "audit_append": Aim(0.5, at_least=True),
}
RSS_BUDGET_MB = 250.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def throughput(per_s: float, raw_per_s: float) -> dict[str, float]:
    return {"per_s": per_s, "raw_per_s": raw_per_s, "ratio": ratio(per_s, raw_per_s)}


@dataclass
class Runs:
    """Every run's figures; the JSON and the table take their medians."""

    end_to_end: list[float] = field(default_factory=list)
    end_to_end_raw: list[float] = field(default_factory=list)
    latency: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # service->pct
    raw_p99: list[float] = field(default_factory=list)
    drain_s: list[float] = field(default_factory=list)
    drain_raw_s: list[float] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    stages: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # stage->per_s/raw

    def add_latency(self, service: str, samples_ms: Sequence[float]) -> None:
        into = self.latency.setdefault(service, {"p50": [], "p95": [], "p99": []})
        for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
            into[name].append(percentile(samples_ms, q))

    def add_stage(self, stage: str, per_s: float, raw_per_s: float) -> None:
        into = self.stages.setdefault(stage, {"per_s": [], "raw_per_s": []})
        into["per_s"].append(per_s)
        into["raw_per_s"].append(raw_per_s)

    def peak(self, service: str, mb: float) -> None:
        self.rss_mb[service] = max(self.rss_mb.get(service, 0.0), mb)


def figures(runs: Runs) -> dict[str, Any]:
    """The issue's JSON shape, exactly: medians over the runs."""

    def stage(name: str) -> dict[str, float]:
        got = runs.stages.get(name, {"per_s": [], "raw_per_s": []})
        return throughput(median(got["per_s"]), median(got["raw_per_s"]))

    latency: dict[str, Any] = {
        service: {
            pct: median(runs.latency.get(service, {}).get(pct, [])) for pct in ("p50", "p95", "p99")
        }
        for service in CONSUMERS
    }
    latency["raw_p99"] = median(runs.raw_p99)
    return {
        "end_to_end": throughput(median(runs.end_to_end), median(runs.end_to_end_raw)),
        "latency_ms": latency,
        "drain_s": median(runs.drain_s),
        "rss_mb": {
            service: runs.rss_mb.get(service, float("nan")) for service in ("intake", *CONSUMERS)
        },
        "placement": stage("placement"),
        "intake_batch": stage("intake_batch"),
        "audit_append": stage("audit_append"),
    }


def _row(what: str, now: str, raw: str, value: float, aim: Aim | None) -> str:
    shown = "—" if value != value else f"{value:.2f}"
    if aim is None:
        return f"| {what} | {now} | {raw} | {shown} | — | — |"
    return f"| {what} | {now} | {raw} | {shown} | {aim} | {aim.gap(value)} |"


def table(got: Mapping[str, Any], runs: int, drain_raw_s: float = float("nan")) -> str:
    """Markdown: each figure, its raw limit of the same run, the ratio, the aim, the gap."""
    e2e, lat, rss = got["end_to_end"], got["latency_ms"], got["rss_mb"]
    rows = [
        f"Median of {runs} run(s). Ratios are to raw limits measured in the same run.",
        "",
        "| figure | now | raw limit, same run | ratio | aim | gap |",
        "|---|---|---|---|---|---|",
        _row(
            "end to end, accepted → recorded by all three (reports/s)",
            f"{e2e['per_s']:,.0f}",
            f"{e2e['raw_per_s']:,.0f} (produce + 3 consumers + COPY)",
            e2e["ratio"],
            AIMS["end_to_end"],
        ),
    ]
    for service in CONSUMERS:
        each = lat[service]
        rows.append(
            _row(
                f"{service} latency p99 at {OFFERED_PER_S:,}/s (p50 / p95 / p99 ms)",
                f"{each['p50']:.0f} / {each['p95']:.0f} / {each['p99']:.0f}",
                f"{lat['raw_p99']:.1f} ms produce → consume p99",
                ratio(each["p99"], lat["raw_p99"]),
                AIMS["latency"],
            )
        )
    rows.append(
        _row(
            "drain of the backlog (s)",
            f"{got['drain_s']:.1f}",
            f"{drain_raw_s:.1f} at the raw rate",
            ratio(got["drain_s"], drain_raw_s),
            None,
        )
    )
    for service, mb in rss.items():
        rows.append(
            _row(
                f"{service} peak RSS (MB)",
                f"{mb:.0f}",
                f"{RSS_BUDGET_MB:.0f} MB budget",
                ratio(mb, RSS_BUDGET_MB),
                AIMS["rss"],
            )
        )
    for name, what, raw in (
        ("placement", "placement decisions/s", "consume + COPY"),
        ("intake_batch", "intake batch reports/s", "COPY of the same rows"),
        ("audit_append", "audit append entries/s (tree + checkpoint)", "COPY"),
    ):
        stage = got[name]
        rows.append(
            _row(
                what,
                f"{stage['per_s']:,.0f}",
                f"{stage['raw_per_s']:,.0f} ({raw})",
                stage["ratio"],
                AIMS[name],
            )
        )
    return "\n".join(rows)


# The platform: four service processes on fresh databases and a fresh topic namespace.


@dataclass
class ServiceUnderTest:
    service: Service
    port: int
    env: dict[str, str]
    log_path: Path
    process: ManagedProcess | None = None
    peak_mb: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = ManagedProcess(
            self.service.name,
            [sys.executable, "-m", f"services.{self.service.name}"],
            log_path=self.log_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            cwd=REPO_ROOT,
        )
        self.process.start()

    async def ready(self, within: float = 180.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while True:
                if self.process is None or not self.process.running():
                    raise PipelineError(f"{self.service.name} exited; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise PipelineError(f"{self.service.name} not ready; see {self.log_path}")
                await asyncio.sleep(0.3)

    def sample_rss(self) -> None:
        """Keep the peak VmHWM of the process and its children (uvicorn workers)."""
        if self.process is None or self.process.pid is None:
            return
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.process.pid)
            for each in [root, *root.children(recursive=True)]:
                self.peak_mb = max(self.peak_mb, vm_hwm_mb(each.pid))

    async def stop(self) -> None:
        self.sample_rss()
        if self.process is not None:
            await self.process.stop()
            self.process = None


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of a process (``VmHWM`` in /proc/<pid>/status), in MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Platform:
    infra: LocalInfrastructure
    namespace: str
    keys: PlatformSecrets
    credentials: DemoCredentials
    urls: dict[str, str]  # sqlalchemy URLs of each service's database
    services: dict[str, ServiceUnderTest]

    @property
    def topic(self) -> str:
        return Topic.LOANS.qualified(self.namespace)

    def dsn(self, service: str) -> str:
        return self.urls[service].replace("postgresql+asyncpg://", "postgresql://")

    def group(self, service: str) -> str:
        return f"{self.namespace}{GROUPS[service]}"

    @property
    def lender_key(self) -> str:
        return self.credentials.lender["api_key"]

    async def start(self, names: Sequence[str]) -> None:
        for name in names:
            self.services[name].start()
        await asyncio.gather(*(self.services[name].ready() for name in names))

    async def stop(self, names: Sequence[str]) -> None:
        await asyncio.gather(*(self.services[name].stop() for name in names))

    def sample_rss(self) -> None:
        for each in self.services.values():
            each.sample_rss()


@contextlib.asynccontextmanager
async def platform_on(infra: LocalInfrastructure, logs: Path) -> AsyncIterator[Platform]:
    tag = uuid4().hex[:8]
    namespace = f"pipe{tag}."
    keys, credentials = PlatformSecrets.generate(), DemoCredentials.generate()
    await issue_demo_keys(infra.kafka_bootstrap, credentials, namespace)
    urls: dict[str, str] = {}
    services: dict[str, ServiceUnderTest] = {}
    for service in SERVICES:
        database = f"pipe_{service.name}_{tag}"
        await infra.create_database(database)
        urls[service.name] = infra.postgres_url(database)
        await upgrade_to_head(service.migrations, urls[service.name])
        port = compliance_bench.free_port()
        env = service_environment(
            service, urls[service.name], infra.kafka_bootstrap, keys, namespace
        )
        env |= {
            f"{service.env_prefix}HTTP_PORT": str(port),
            f"{service.env_prefix}LOG_LEVEL": "WARNING",
        }
        if service.name == "notifier":
            env["NOTIFIER_SENDER"] = "false"  # sending is bench-notifier's figure
        services[service.name] = ServiceUnderTest(
            service, port, env, logs / f"{service.name}-{tag}.log"
        )
    await gateway_bench.register(urls["agency_gateway"])  # ten agencies with room for all
    platform = Platform(infra, namespace, keys, credentials, urls, services)
    try:
        await platform.start(list(services))
        yield platform
    finally:
        await platform.stop(list(services))
        for service in SERVICES:
            with contextlib.suppress(Exception):
                await _drop_database(infra, urls[service.name])
        with contextlib.suppress(Exception):
            await _drop_topics(infra.kafka_bootstrap, namespace)


async def _drop_database(infra: LocalInfrastructure, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_async_engine(infra.postgres_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def _drop_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


# Reports and counts.


def report(loan_id: str) -> dict[str, Any]:
    """Intake's benchmark report, 60 days past due: past every placement threshold."""
    made = intake_bench.report(loan_id)
    return made | {"due_date": "2026-09-29", "days_past_due": 60}


async def post(client: httpx.AsyncClient, loan_ids: Sequence[str]) -> None:
    """One batch; a 503 or 429 (a dependency briefly away) is retried with the same
    Idempotency-Key, as a lender's client would."""
    body = orjson.dumps({"items": [report(loan_id) for loan_id in loan_ids]})
    headers = {"Idempotency-Key": uuid4().hex}
    for _ in range(30):
        answer = await client.post("/v1/overdue-loans/batch", content=body, headers=headers)
        if answer.status_code not in (429, 503):
            break
        await asyncio.sleep(0.5)
    if answer.status_code != 200 or orjson.loads(answer.content)["accepted"] != len(loan_ids):
        raise PipelineError(f"batch answered {answer.status_code}: {answer.text[:300]}")


COUNTS = {
    "notifier": "SELECT count(*) FROM loans WHERE loan_id LIKE $1",
    "agency_gateway": "SELECT count(*) FROM assignments WHERE loan_id LIKE $1",
    "compliance": (
        "SELECT count(*) FROM audit_entries WHERE loan_id LIKE $1 AND event_type = $2"
        " AND leaf_index < (SELECT coalesce(max(tree_size), 0) FROM checkpoints)"
    ),
}


async def recorded(
    platform: Platform, connections: Mapping[str, Any], prefix: str
) -> dict[str, int]:
    """Reports of ``prefix`` each consumer recorded: the notifier's loan file, the gateway's
    placement (its case comes first), compliance's entry in a signed checkpoint."""
    got = {}
    for service in CONSUMERS:
        args: list[Any] = [f"{prefix}-%"]
        if service == "compliance":
            args.append(OVERDUE_REPORTED.name)
        got[service] = int(await connections[service].fetchval(COUNTS[service], *args))
    return got


async def until_recorded(
    platform: Platform,
    prefix: str,
    count: int,
    within: float,
    finished: dict[str, float] | None = None,
) -> float:
    """Wait until all three consumers recorded ``count`` reports of ``prefix``; the time.
    ``finished``, if given, gets the time each consumer was done."""
    finished = {} if finished is None else finished
    connections = {s: await asyncpg.connect(platform.dsn(s)) for s in CONSUMERS}
    deadline = time.monotonic() + within
    try:
        while True:
            got = await recorded(platform, connections, prefix)
            platform.sample_rss()
            now = time.perf_counter()
            for service, n in got.items():
                if n >= count:
                    finished.setdefault(service, now)
            if len(finished) == len(CONSUMERS):
                return now
            if time.monotonic() > deadline:
                raise PipelineError(f"{prefix}: {count} posted, recorded {got} in {within:.0f} s")
            await asyncio.sleep(0.25)
    finally:
        for connection in connections.values():
            await connection.close()


# (a) Sustained end-to-end throughput, through intake's own benchmark function.


async def post_reports(platform: Platform, prefix: str, reports: int, clients: int = 4) -> float:
    """Post ``reports`` reports, 1,000 a request from ``clients`` concurrent clients (as
    ``benchmarks.intake.post_batches`` does, with reports past every placement threshold);
    reports/s accepted."""
    pending = [
        [f"{prefix}-{n}" for n in range(start, min(start + BATCH, reports))]
        for start in range(0, reports, BATCH)
    ][::-1]
    headers = {"Authorization": f"Bearer {platform.lender_key}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=platform.services["intake"].url, headers=headers, timeout=300.0
        ) as http:
            while pending:
                await post(http, pending.pop())

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return reports / (time.perf_counter() - started)


async def end_to_end(platform: Platform, reports: int, prefix: str) -> tuple[float, float]:
    """Reports/s accepted until recorded by all three; intake's batch rate in the same run."""
    started = time.perf_counter()
    waiting = asyncio.create_task(until_recorded(platform, prefix, reports, within=1800))
    try:
        batch_rate = await post_reports(platform, prefix, reports)
        done = await waiting
    finally:
        waiting.cancel()
    return reports / (done - started), batch_rate


# The raw pipeline: the same messages, produced and consumed bare; the same rows, COPYed.


async def rows_of(dsn: str, table: str, prefix: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(dsn)
    try:
        return [
            tuple(r)
            for r in await connection.fetch(
                f"SELECT * FROM {table} WHERE loan_id LIKE $1",  # noqa: S608 (our own table names)
                f"{prefix}-%",
            )
        ]
    finally:
        await connection.close()


async def messages_of(
    bootstrap: str, topic: str, prefix: str, count: int
) -> list[tuple[bytes | None, bytes]]:
    """The reports' messages on the topic, as intake's relay published them."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"messages-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * MB,
    )
    await consumer.start()
    marker = f'"{prefix}-'.encode()
    found: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + 300
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                found += [(r.key, r.value) for r in records if r.value and marker in r.value]
    finally:
        await consumer.stop()
    return found


class Copier:
    """A bare consumer group that COPYs a service's rows into copies of its tables, in step
    with the messages it consumed."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        dsn: str,
        rows: dict[str, list[tuple[Any, ...]]],
        total: int,
    ) -> None:
        self.bootstrap, self.topic, self.dsn, self.rows, self.total = (
            bootstrap,
            topic,
            dsn,
            rows,
            total,
        )

    async def prepare(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self.dsn)
        for table in self.rows:
            await connection.execute(f"DROP TABLE IF EXISTS raw_{table}")
            await connection.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        return connection

    async def copy_up_to(self, connection: asyncpg.Connection, done: int, now: int) -> None:
        async with connection.transaction():
            for table, rows in self.rows.items():
                start, end = len(rows) * done // self.total, len(rows) * now // self.total
                if end > start:
                    await connection.copy_records_to_table(f"raw_{table}", records=rows[start:end])

    async def consume(self, connection: asyncpg.Connection) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            group_id=f"raw-{uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=BATCH,
            max_partition_fetch_bytes=8 * MB,
        )
        await consumer.start()
        seen = 0
        try:
            while seen < self.total:
                batches = await consumer.getmany(timeout_ms=200, max_records=BATCH)
                got = sum(len(records) for records in batches.values())
                if got:
                    await self.copy_up_to(connection, seen, min(seen + got, self.total))
                    seen += got
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def drop(self, connection: asyncpg.Connection) -> None:
        for table in self.rows:
            await connection.execute(f"DROP TABLE IF EXISTS raw_{table}")
        await connection.close()


async def create_topic(bootstrap: str, name: str, partitions: int = 6) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def produce_all(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]]
) -> None:
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap).kafka_connection()
    producer = create_producer(kafka, client_id="raw")
    await producer.start()
    try:
        for start in range(0, len(messages), BATCH):  # bounded: aiokafka issue #528
            sent = [
                await producer.send(topic, value, key=key)
                for key, value in messages[start : start + BATCH]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def reports_on_topic(
    platform: Platform, prefix: str, count: int
) -> list[tuple[bytes | None, bytes]]:
    """The ``count`` messages intake's relay published for the reports of ``prefix``."""
    messages = await messages_of(platform.infra.kafka_bootstrap, platform.topic, prefix, count)
    if len(messages) < count:
        raise PipelineError(f"{count} reports, {len(messages)} messages found on {platform.topic}")
    return messages


async def raw_pipeline(
    platform: Platform, prefix: str, messages: Sequence[tuple[bytes | None, bytes]]
) -> float:
    """Reports/s through the bare pipeline: produce the same messages while COPYing intake's
    rows, three bare groups consuming them, each COPYing its service's rows."""
    bootstrap = platform.infra.kafka_bootstrap
    count = len(messages)
    topic = f"{platform.namespace}raw-{uuid4().hex[:6]}"
    await create_topic(bootstrap, topic)
    copiers = {
        service: Copier(
            bootstrap,
            topic,
            platform.dsn(service),
            {
                table: await rows_of(platform.dsn(service), table, prefix)
                for table in TABLES[service]
            },
            count,
        )
        for service in TABLES
    }
    connections = {service: await copier.prepare() for service, copier in copiers.items()}
    try:
        started = time.perf_counter()
        await asyncio.gather(
            produce_all(bootstrap, topic, messages),
            copiers["intake"].copy_up_to(connections["intake"], 0, count),
            *(copiers[s].consume(connections[s]) for s in CONSUMERS),
        )
        elapsed = time.perf_counter() - started
    finally:
        for service, copier in copiers.items():
            await copier.drop(connections[service])
    return count / elapsed


# (b) Latency at a fixed offered load.


async def offered_load(client: httpx.AsyncClient, prefix: str, seconds: float) -> dict[str, float]:
    """Post ``OFFERED_PER_S`` reports a second in ticks, open loop; each report's acceptance
    (wall clock of its batch's 200)."""
    per_tick = int(OFFERED_PER_S * TICK_S)
    accepted: dict[str, float] = {}
    tasks = []

    async def one(ids: list[str]) -> None:
        await post(client, ids)
        at = time.time()
        for loan_id in ids:
            accepted[loan_id] = at

    begin = time.perf_counter()
    for tick in range(int(seconds / TICK_S)):
        ids = [f"{prefix}-{tick * per_tick + n}" for n in range(per_tick)]
        tasks.append(asyncio.create_task(one(ids)))
        await asyncio.sleep(max(0.0, begin + (tick + 1) * TICK_S - time.perf_counter()))
    await asyncio.gather(*tasks)
    return accepted


RECORDED_AT = {
    # The consumer's inbox row for the event: written in the transaction that applied it
    # (received_at is that transaction's now(), its start).
    "notifier": "SELECT event_id, received_at FROM inbox WHERE event_id = ANY($1::uuid[])",
    "agency_gateway": "SELECT event_id, received_at FROM inbox WHERE event_id = ANY($1::uuid[])",
    # The signing of the first checkpoint whose tree holds the entry.
    "compliance": (
        "SELECT e.event_id, (SELECT min(c.signed_at) FROM checkpoints c"
        " WHERE c.tree_size > e.leaf_index) FROM audit_entries e"
        " WHERE e.event_id = ANY($1::uuid[])"
    ),
}


async def latency(platform: Platform, prefix: str, seconds: float) -> dict[str, list[float]]:
    """Per consumer: ms from a report's acceptance to its recording there (``RECORDED_AT``)."""
    headers = {"Authorization": f"Bearer {platform.lender_key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=platform.services["intake"].url, headers=headers, timeout=60.0
    ) as client:
        accepted = await offered_load(client, prefix, seconds)
    say(f"{prefix}: {len(accepted):,} reports accepted at {OFFERED_PER_S:,}/s")
    await until_recorded(platform, prefix, len(accepted), within=600)
    say(f"{prefix}: recorded by all three")
    messages = await messages_of(
        platform.infra.kafka_bootstrap, platform.topic, prefix, len(accepted)
    )
    loans: dict[str, str] = {}  # event id -> loan id
    for _, value in messages:
        envelope = orjson.loads(value)
        loans[envelope["id"]] = envelope["subject"]
    samples: dict[str, list[float]] = {}
    for service in CONSUMERS:
        connection = await asyncpg.connect(platform.dsn(service))
        try:
            rows = await connection.fetch(RECORDED_AT[service], list(loans))
        finally:
            await connection.close()
        samples[service] = [
            1000 * (at.timestamp() - accepted[loans[str(event_id)]])
            for event_id, at in rows
            if at is not None
        ]
        if len(samples[service]) < len(accepted):
            raise PipelineError(f"{service}: {len(samples[service])} of {len(accepted)} timed")
    return samples


async def raw_latency(platform: Platform, prefix: str, seconds: float) -> list[float]:
    """Produce -> consume ms of the same messages at the same offered load, bare aiokafka."""
    bootstrap = platform.infra.kafka_bootstrap
    messages = await messages_of(bootstrap, platform.topic, prefix, int(OFFERED_PER_S * seconds))
    topic = f"{platform.namespace}rawlat-{uuid4().hex[:6]}"
    await create_topic(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"rawlat-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap).kafka_connection()
    producer = create_producer(kafka, client_id="rawlat")
    await producer.start()
    sent_at: dict[int, float] = {}
    delays: list[float] = []
    per_tick = int(OFFERED_PER_S * TICK_S)

    async def produce() -> None:
        begin = time.perf_counter()
        for tick in range(0, len(messages), per_tick):
            at = time.time()
            futures = []
            for n, (key, value) in enumerate(messages[tick : tick + per_tick]):
                number = tick + n
                sent_at[number] = at
                futures.append(
                    await producer.send(
                        topic, value, key=key, headers=[("n", str(number).encode())]
                    )
                )
            await asyncio.gather(*futures)
            await asyncio.sleep(
                max(0.0, begin + (tick // per_tick + 1) * TICK_S - time.perf_counter())
            )

    async def consume() -> None:
        while len(delays) < len(messages):
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batches.values():
                for record in records:
                    number = int(dict(record.headers)["n"])
                    delays.append(1000 * (now - sent_at[number]))
            if batches:
                await consumer.commit()

    try:
        await asyncio.wait_for(asyncio.gather(produce(), consume()), timeout=300)
    finally:
        await producer.stop()
        await consumer.stop()
    return delays


# (c) Drain of a backlog.


def backlog_messages(
    lender: str, keys: PlatformSecrets, prefix: str, count: int
) -> list[tuple[bytes, bytes]]:
    """``count`` overdue reports of ``lender`` as intake's relay would publish them: the same
    contract, the borrower pseudonymised and sealed with the platform's keys as intake does."""
    transit = KeyRing.parse(keys.transit_keys)
    pseudonyms = Pseudonymizer.from_secret(SecretStr(keys.pseudonym_key))
    messages = []
    for n in range(count):
        made = report(f"{prefix}-{n}")
        borrower = made["borrower"]
        reference = pseudonyms.reference(lender, borrower["id"])
        contact = BorrowerContact(
            name=borrower["name"], phone=borrower["phone"], email=borrower["email"]
        )
        event = OverdueReported.model_validate(
            made
            | {
                "borrower": BorrowerProfile(
                    ref=reference,
                    contact=transit.seal(
                        contact.model_dump_json().encode(), associated_data=reference.encode()
                    ),
                    locale=borrower["locale"],
                    timezone=borrower["timezone"],
                )
            }
        )
        envelope = new_envelope(
            type_name=OVERDUE_REPORTED.name,
            schema_version=OVERDUE_REPORTED.version,
            source=INTAKE_SOURCE,
            subject=event.loan_id,
            tenant=lender,
            data=event,
        )
        messages.append((message_key(lender, event.loan_id).encode(), envelope.to_bytes()))
    return messages


async def drain(platform: Platform, prefix: str, backlog: int) -> float:
    """Seconds from the consumers' start until all three recorded a backlog put on the loans
    topic while they were stopped. The backlog is produced straight to the topic (intake's
    rate is the end-to-end run's batch figure): posting a million reports through intake
    first would take longer than draining them."""
    await platform.stop(list(CONSUMERS))
    messages = backlog_messages(platform.credentials.lender["id"], platform.keys, prefix, backlog)
    await produce_all(platform.infra.kafka_bootstrap, platform.topic, messages)
    del messages
    started = time.perf_counter()
    await platform.start(list(CONSUMERS))
    finished: dict[str, float] = {}
    done = await until_recorded(platform, prefix, backlog, within=7200, finished=finished)
    say(
        "drain: "
        + ", ".join(f"{s} done after {at - started:.1f} s" for s, at in sorted(finished.items()))
    )
    return done - started


# The service benchmarks' own stages, called, not re-implemented.


async def placement_stage(infra: LocalInfrastructure, loans: int) -> tuple[float, float]:
    """``benchmarks.agency_gateway.placement``: the gateway's app in this process."""
    tag = uuid4().hex[:8]
    namespace, database = f"pipeplace{tag}.", f"pipe_place_{tag}"
    keys = PlatformSecrets.generate()
    await infra.create_database(database)
    url = infra.postgres_url(database)
    gateway = next(s for s in SERVICES if s.name == "agency_gateway")
    options = service_options(gateway, url, infra.kafka_bootstrap, keys, namespace)
    app = build_app("agency_gateway", options | {"placement_batch_size": 1000})
    try:
        async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
            await gateway_bench.register(url)
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            return await gateway_bench.placement(infra, namespace, loans, keys, dsn)
    finally:
        await _drop_database(infra, url)
        await _drop_topics(infra.kafka_bootstrap, namespace)


async def audit_stage(infra: LocalInfrastructure, entries: int) -> tuple[float, float]:
    """``benchmarks.compliance``'s append (tree + signed checkpoint) and its COPY baseline."""
    database = f"pipe_audit_{uuid4().hex[:8]}"
    await infra.create_database(database)
    url = infra.postgres_url(database)
    try:
        await upgrade_to_head(COMPLIANCE_MIGRATIONS, url)
        rows = compliance_bench.entries(entries, entries // 20 or 1)
        copy = await compliance_bench.timed_copy(url, rows, BATCH)
        appended = await compliance_bench.timed_appends(
            url, rows, BATCH, Signer.generate("collections.bench/audit")
        )
        return appended, copy
    finally:
        await _drop_database(infra, url)


# The run.


@dataclass(frozen=True)
class Sizes:
    latency_s: float
    reports: int
    backlog: int
    placement: int
    audit: int
    runs: int


QUICK = Sizes(latency_s=8, reports=10_000, backlog=100_000, placement=5_000, audit=20_000, runs=1)
FULL = Sizes(
    latency_s=30, reports=50_000, backlog=1_000_000, placement=20_000, audit=200_000, runs=3
)


def machine() -> dict[str, str]:
    memory = psutil.virtual_memory().total / 1024**3
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{memory:.1f} GiB",
        "python": platform.python_version(),
        "load average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


async def measure(args: argparse.Namespace) -> tuple[Runs, float]:
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        args.latency_seconds or sizes.latency_s,
        args.reports or sizes.reports,
        args.backlog or sizes.backlog,
        sizes.placement,
        sizes.audit,
        sizes.runs,
    )
    runs_wanted = args.runs or sizes.runs
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT, kafka_port=19592, postgres_port=54659, cache_dir=DEFAULT_CACHE
    )
    logs = BENCH_ROOT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    runs = Runs()
    async with infra:
        async with platform_on(infra, logs) as platform:
            say(
                f"platform up: namespace {platform.namespace} ({time.strftime('%H:%M:%S')})",
            )
            for run in range(runs_wanted):
                prefix = f"LAT{run}"
                samples = await latency(platform, prefix, sizes.latency_s)
                for service, each in samples.items():
                    runs.add_latency(service, each)
                bare = await raw_latency(platform, prefix, sizes.latency_s)
                runs.raw_p99.append(percentile(bare, 99))
                say(
                    f"run {run + 1}: latency p99 "
                    + ", ".join(f"{s} {percentile(v, 99):.0f} ms" for s, v in samples.items())
                    + f"; raw produce->consume p99 {percentile(bare, 99):.1f} ms",
                )
                prefix = f"E2E{run}"
                per_s, batch_rate = await end_to_end(platform, sizes.reports, prefix)
                messages = await reports_on_topic(platform, prefix, sizes.reports)
                raw_per_s = await raw_pipeline(platform, prefix, messages)
                intake_copy = await intake_copy_rate(platform, prefix, messages)
                runs.end_to_end.append(per_s)
                runs.end_to_end_raw.append(raw_per_s)
                runs.add_stage("intake_batch", batch_rate, intake_copy)
                say(
                    f"run {run + 1}: end to end {per_s:,.0f}/s, raw {raw_per_s:,.0f}/s; intake "
                    f"batch {batch_rate:,.0f}/s, COPY of its rows {intake_copy:,.0f}/s",
                )
            backlog = sizes.backlog
            drained = await drain(platform, "DRAIN", backlog)
            runs.drain_s.append(drained)
            runs.drain_raw_s.append(backlog / median(runs.end_to_end_raw))
            say(f"drain of {backlog:,}: {drained:.1f} s")
            platform.sample_rss()
            for name, process in platform.services.items():
                runs.peak(name, process.peak_mb)
            if args.profile_seconds:
                await profile_slowest(platform, logs, args.profile_seconds)
        for run in range(runs_wanted):
            placed, raw = await placement_stage(infra, sizes.placement)
            runs.add_stage("placement", placed, raw)
            appended, copy = await audit_stage(infra, sizes.audit)
            runs.add_stage("audit_append", appended, copy)
            say(
                f"run {run + 1}: placement {placed:,.0f}/s vs {raw:,.0f}/s; "
                f"audit append {appended:,.0f}/s vs COPY {copy:,.0f}/s",
            )
    return runs, median(runs.drain_raw_s)


async def intake_copy_rate(
    platform: Platform, prefix: str, messages: Sequence[tuple[bytes | None, bytes]]
) -> float:
    """Reports/s COPYing the rows intake wrote for them (the report, its event, its outbox
    row) into copies of those tables, in batches of 1,000: intake's raw limit. The relay
    deleted the outbox rows it published; theirs are made again from the published records."""
    dsn = platform.dsn("intake")
    rows = {table: await rows_of(dsn, table, prefix) for table in TABLES["intake"]}
    rows["outbox"] = [
        (UUID(orjson.loads(value)["id"]), platform.topic, (key or b"").decode(), value)
        for key, value in messages
    ]
    columns = {"outbox": ["event_id", "topic", "message_key", "payload"]}
    connection = await asyncpg.connect(dsn)
    try:
        count = len(rows["loans"])
        for table in rows:
            await connection.execute(f"DROP TABLE IF EXISTS raw_{table}")
            await connection.execute(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        started = time.perf_counter()
        for done in range(0, count, BATCH):
            now = min(done + BATCH, count)
            async with connection.transaction():
                for table, each in rows.items():
                    start, end = len(each) * done // count, len(each) * now // count
                    await connection.copy_records_to_table(
                        f"raw_{table}", records=each[start:end], columns=columns.get(table)
                    )
        elapsed = time.perf_counter() - started
        for table in rows:
            await connection.execute(f"DROP TABLE IF EXISTS raw_{table}")
    finally:
        await connection.close()
    return count / elapsed


async def profile_slowest(platform: Platform, logs: Path, seconds: float) -> None:
    """py-spy record of each consumer for ``seconds`` under a fresh end-to-end load."""
    tools = Path(sys.executable).with_name("py-spy")
    if not tools.exists():
        print("py-spy not installed: no profile")
        return
    procs = []
    for service in CONSUMERS:
        pid = platform.services[service].process.pid  # type: ignore[union-attr]
        out = logs / f"profile-{service}.txt"
        procs.append(
            await asyncio.create_subprocess_exec(
                str(tools),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
    await end_to_end(platform, int(OFFERED_PER_S * seconds * 2), "PROF")
    for each in procs:
        await each.wait()
    print(f"profiles in {logs}/profile-*.txt")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    root.add_argument("--quick", action="store_true", help="small sizes, one run (minutes)")
    root.add_argument("--json", type=Path, help="write the figures here")
    root.add_argument("--runs", type=int, default=0, help="runs (median); default 3, --quick 1")
    root.add_argument("--backlog", type=int, default=0, help="reports in the backlog to drain")
    root.add_argument("--reports", type=int, default=0, help="reports for the end-to-end rate")
    root.add_argument("--latency-seconds", type=float, default=0, help="at 1,000 reports/s")
    root.add_argument("--profile-seconds", type=float, default=0, help="py-spy the consumers")
    return root


def main() -> None:
    args = parser().parse_args()
    started = time.perf_counter()
    print(" | ".join(f"{k} {v}" for k, v in machine().items()))
    try:
        runs, drain_raw = asyncio.run(measure(args))
    except PipelineError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    got = figures(runs)
    print()
    print(table(got, len(runs.end_to_end), drain_raw))
    print(f"\n{time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(got, indent=2) + "\n")


if __name__ == "__main__":
    main()
