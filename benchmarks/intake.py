"""Intake throughput against a real server and the local stack: ``python -m benchmarks.intake``.

Three figures against ``python -m services.intake`` in its own process (uvicorn, ``--workers``
worker processes) on a fresh database and topic namespace, each divided by a raw limit measured
in the same run; the medians of ``--runs`` runs and of the runs' ratios are printed:

- batch intake: reports per second accepted into the database, 1,000 distinct reports per
  request from several concurrent clients, with the outbox relay off (it is measured apart).
  Raw limit: PostgreSQL COPY of the very rows the run wrote (loans, loan_events, outbox) into
  tables with the same columns and indexes, 1,000 reports a transaction, as many connections as
  clients. Aim (issue 20): ratio >= 0.5. The load generator is httpx (4 clients by default,
  each body built before the clock starts). ``--baseline TREE`` (a checkout of other code,
  e.g. ``git archive b20 | tar -x -C TREE``) measures that code's batch figure in the same run,
  alternating with this tree's, each against the COPY of its own rows;
- single reports: ``POST /v1/overdue-loans`` requests per second under the load generator
  (``benchmarks.load``: wrk, installed from Debian's packages when missing, else httpx), whose
  Lua script makes every loan id unique. Raw limit: an authenticated GET of an unknown loan
  (404), same server, same generator;
- relay: events per second from an outbox pre-filled with real events (made by the batch
  runs) to Kafka, counted on the topic. Raw limit: a bare aiokafka producer with the relay's
  settings sending the same messages.

``--only costs`` adds where a batch report's CPU goes (validation, use case, PostgreSQL).
Kafka and PostgreSQL come from ``COLLECTIONS_KAFKA_BOOTSTRAP`` and ``COLLECTIONS_POSTGRES_URL``
when both are set, else from a local stack started in ``.devstack-bench/``. No absolute target
is printed, and a missed aim is never a failing exit code; a wrong count (a report or event
lost) is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks.load import generator
from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE, REPO_ROOT
from deploy.devstack.platform import (
    SERVICES,
    DemoCredentials,
    PlatformSecrets,
    issue_demo_keys,
    service_environment,
)
from services.intake.adapters.unit_of_work import SqlUnitOfWork
from services.intake.api.schemas import OverdueLoanReport
from services.intake.application.handlers import IntakeHandlers
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import ReportOverdueLoans
from services.intake.wiring import MIGRATIONS
from shared.crypto import KeyRing, Pseudonymizer
from shared.db.engine import create_engine, create_session_factory
from shared.db.migrations import upgrade_to_head
from shared.events.topics import Topic
from shared.kafka.admin import ensure_topics
from shared.kafka.producer import create_producer

BENCH_ROOT = REPO_ROOT / ".devstack-bench"
WRK_SCRIPT = Path(__file__).with_name("single_report.lua")
INTAKE = next(service for service in SERVICES if service.name == "intake")
BATCH_SIZE = 1000


class BenchError(Exception):
    """The benchmark could not measure honestly (lost reports, a failed request, no server)."""


@dataclass(frozen=True)
class Figure:
    """A figure and the raw limit it is divided by, both measured in each run."""

    key: str
    what: str
    unit: str
    raw: str  # what the raw limit is
    aim: float | None = None  # ratio to reach, when the issue sets one


FIGURES = (
    Figure(
        "batch",
        "batch intake, accepted into the database",
        "reports/s",
        "COPY of the same rows (loans, loan_events, outbox)",
        aim=0.5,
    ),
    Figure(
        "batch_old",
        "batch intake, baseline tree (--baseline), same run",
        "reports/s",
        "COPY of the same rows (loans, loan_events, outbox)",
        aim=0.5,
    ),
    Figure(
        "single",
        "single-report POST",
        "requests/s",
        "authenticated GET of an unknown loan, same server and load generator",
    ),
    Figure("relay", "outbox relay to Kafka", "events/s", "bare aiokafka produce, same messages"),
)


@dataclass
class Figures:
    runs: dict[str, list[float]] = field(default_factory=dict)
    raw: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)  # CPU µs per batch report
    generator: str = ""
    batch_generator: str = ""

    def add(self, key: str, value: float, note: str, raw: float | None = None) -> None:
        """Record a run and the raw limit measured with it (when the caller does not record
        that as a figure of its own); the note says what the machine's load was."""
        note = f"{note}; load average {os.getloadavg()[0]:.1f}"
        self.runs.setdefault(key, []).append(value)
        self.notes.setdefault(key, []).append(note)
        versus = ""
        if raw is not None:
            self.raw.setdefault(key, []).append(raw)
            versus = f", raw limit {raw:,.0f}/s, ratio {value / raw:.2f}"
        print(f"  {key} run {len(self.runs[key])}: {value:,.0f}/s{versus} ({note})", flush=True)

    def ratios(self, key: str) -> list[float]:
        return [value / raw for value, raw in zip(self.runs[key], self.raw[key], strict=True)]


# The server under test.


class IntakeServer:
    """``python -m services.intake`` in its own process, stopped with SIGTERM."""

    def __init__(
        self, env: dict[str, str], port: int, log_path: Path, tree: Path = REPO_ROOT
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._env = env
        self._log_path = log_path
        self._tree = tree  # the checkout whose code it runs (``--baseline``: the old one)
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> IntakeServer:
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.intake",
                cwd=self._tree,
                env={**os.environ, **self._env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await self._wait_ready(within=120.0)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._stop()

    async def _wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.returncode is not None:
                    raise BenchError(f"intake exited at start-up; see {self._log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise BenchError(f"intake not ready after {within:.0f} s; see {self._log_path}")

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30.0)
        except TimeoutError:
            process.kill()
            await process.wait()


# The bench: one database, credentials and topic namespace for the whole invocation.


@dataclass
class Bench:
    args: argparse.Namespace
    infra: LocalInfrastructure
    database: str
    namespace: str
    engine: AsyncEngine
    keys: PlatformSecrets = field(default_factory=PlatformSecrets.generate)
    credentials: DemoCredentials = field(default_factory=DemoCredentials.generate)
    logs: Path = BENCH_ROOT / "logs"

    @property
    def database_url(self) -> str:
        return self.infra.postgres_url(self.database)

    @property
    def api_key(self) -> str:
        return self.credentials.lender["api_key"]

    def server(
        self, *, relay: bool, namespace: str | None = None, tree: Path = REPO_ROOT
    ) -> IntakeServer:
        port = _free_port()
        env = service_environment(
            INTAKE,
            self.database_url,
            self.infra.kafka_bootstrap,
            self.keys,
            namespace or self.namespace,
        )
        env |= {
            "INTAKE_HTTP_PORT": str(port),
            "INTAKE_HTTP_WORKERS": str(self.args.workers),
            "INTAKE_OUTBOX_RELAY": str(relay).lower(),
            "INTAKE_LOG_LEVEL": "WARNING",
        }
        return IntakeServer(env, port, self.logs / f"intake-{self.database}.log", tree)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(text(sql), params)

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(text(sql), params)


def report(loan_id: str) -> dict[str, Any]:
    """A valid overdue report (the figures of the README's example), a borrower of its own."""
    return {
        "loan_id": loan_id,
        "borrower": {
            "id": f"B{loan_id}",
            "name": "Bench Borrower",
            "phone": f"+86138{zlib.crc32(loan_id.encode()) % 10**8:08d}",
            "email": f"{loan_id.lower()}@example.com",
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
        },
        "jurisdiction": "CN",
        "product": "consumer-credit",
        "amount_overdue": {"amount": "1250.00", "currency": "CNY"},
        "due_date": "2026-11-01",
        "days_past_due": 27,
        "as_of": "2026-11-28T09:00:00+08:00",
    }


# (a) Batch intake.


async def post_batches(bench: Bench, url: str, prefix: str, reports: int) -> float:
    """Post ``reports`` new reports in batches of 1,000; returns reports/s into the database."""
    bodies = [
        orjson.dumps({"items": [report(f"{prefix}-{n}") for n in range(start, start + BATCH_SIZE)]})
        for start in range(0, reports, BATCH_SIZE)
    ]
    total = len(bodies) * BATCH_SIZE
    pending = list(reversed(bodies))
    accepted = 0
    headers = {"Authorization": f"Bearer {bench.api_key}", "Content-Type": "application/json"}

    # A connection per request, so that every worker process gets its share of them.
    fresh_connections = httpx.Limits(max_keepalive_connections=0)

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=300.0, limits=fresh_connections
        ) as http:
            while pending:
                response = await http.post("/v1/overdue-loans/batch", content=pending.pop())
                if response.status_code != 200:
                    raise BenchError(f"batch answered {response.status_code}: {response.text}")
                accepted += orjson.loads(response.content)["accepted"]

    before = await bench.scalar("SELECT count(*) FROM loan_events")
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(bench.args.batch_clients)))
    elapsed = time.perf_counter() - started
    in_database = await bench.scalar("SELECT count(*) FROM loan_events") - before
    if accepted != total or in_database != total:
        raise BenchError(f"sent {total} reports; {accepted} accepted, {in_database} recorded")
    return total / elapsed


async def batch_intake(bench: Bench, figures: Figures) -> None:
    """Batches posted by httpx clients (the load generator of this figure), each run followed
    by the COPY of its own rows; with ``--baseline TREE`` the old code's server (started from
    that checkout, same database) runs first in every run: old and new paired, each against
    its own COPY, alternating."""
    print(f"batch intake: {bench.args.batch_reports:,} reports a run, 1,000 a request,", end=" ")
    print(f"{bench.args.batch_clients} httpx clients, relay off; raw limit: COPY of the", end=" ")
    print("same rows into tables shaped like intake's (same columns, indexes)", flush=True)
    figures.batch_generator = f"httpx, {bench.args.batch_clients} clients"
    await _copy_tables(bench)
    trees = [("batch", REPO_ROOT)]
    if bench.args.baseline:
        trees.insert(0, ("batch_old", bench.args.baseline))
        print(f"  paired with the baseline tree {trees[0][1]}", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        servers = {}
        for key, tree in trees:
            servers[key] = await stack.enter_async_context(bench.server(relay=False, tree=tree))
            await post_batches(bench, servers[key].url, f"W{key}", 5 * BATCH_SIZE)  # warm-up
        for run in range(bench.args.runs):
            for key, _ in trees:
                prefix = f"{key}{run}"
                last_outbox = await bench.scalar("SELECT coalesce(max(id), 0) FROM outbox")
                rate = await post_batches(bench, servers[key].url, prefix, bench.args.batch_reports)
                raw = await copy_limit(bench, prefix, last_outbox)
                figures.add(key, rate, f"{bench.args.batch_reports:,} reports", raw)


# The raw limit of the batch: COPY, with nothing else, of the rows the batch API just wrote.

COPIED = {
    "loans": "bench_copy_loans",
    "loan_events": "bench_copy_loan_events",
    "outbox": "bench_copy_outbox",
}


async def _copy_tables(bench: Bench) -> None:
    """Empty tables like intake's (``LIKE ... INCLUDING ALL``: columns, defaults, constraints,
    indexes), so that the COPY pays for the same index entries."""
    for table, copy in COPIED.items():
        await bench.execute(f"CREATE TABLE IF NOT EXISTS {copy} (LIKE {table} INCLUDING ALL)")


async def copy_limit(bench: Bench, prefix: str, after_outbox_id: int) -> float:
    """Reports/s COPYed: the run's loans, history and outbox rows (selected beforehand), in
    transactions of 1,000 reports from ``--batch-clients`` connections, like the batch API."""
    dsn = bench.database_url.replace("postgresql+asyncpg://", "postgresql://")
    async with contextlib.AsyncExitStack() as stack:
        reader = await asyncpg.connect(dsn)
        stack.push_async_callback(reader.close)
        pattern = f"{prefix}-%"
        rows = {
            "loans": await reader.fetch("SELECT * FROM loans WHERE loan_id LIKE $1", pattern),
            "loan_events": await reader.fetch(
                "SELECT * FROM loan_events WHERE loan_id LIKE $1", pattern
            ),
            "outbox": await reader.fetch(
                "SELECT * FROM outbox WHERE id > $1 ORDER BY id", after_outbox_id
            ),
        }
        columns = {table: list(records[0].keys()) for table, records in rows.items() if records}
        if len(columns) != len(COPIED):
            raise BenchError(f"no rows to COPY for {prefix}: {[len(r) for r in rows.values()]}")
        await reader.execute("TRUNCATE " + ", ".join(COPIED.values()))
        reports = len(rows["loans"])
        chunks = [
            {
                table: [tuple(r) for r in records[start : start + BATCH_SIZE]]
                for table, records in rows.items()
            }
            for start in range(0, reports, BATCH_SIZE)
        ]
        connections = [await asyncpg.connect(dsn) for _ in range(bench.args.batch_clients)]
        for connection in connections:
            stack.push_async_callback(connection.close)

        async def writer(connection: asyncpg.Connection) -> None:
            while chunks:
                chunk = chunks.pop()
                async with connection.transaction():
                    for table, records in chunk.items():
                        await connection.copy_records_to_table(
                            COPIED[table], records=records, columns=columns[table]
                        )

        started = time.perf_counter()
        await asyncio.gather(*(writer(connection) for connection in connections))
        elapsed = time.perf_counter() - started
        copied = await reader.fetchval("SELECT count(*) FROM bench_copy_loans")
        if copied != reports:
            raise BenchError(f"COPY wrote {copied} loans of {reports}")
    return reports / elapsed


# (b) Single reports.


@dataclass(frozen=True)
class LoadResult:
    ok: int
    failed: int
    seconds: float
    client_cpu: float  # CPU seconds the load generator used
    p50_ms: float
    p99_ms: float


async def wrk(bench: Bench, url: str, seconds: float, tag: str, *, raw: bool = False) -> LoadResult:
    """One wrk run; its CPU time is read from this process's reaped children. ``raw``: the
    raw limit, GETs of an unknown loan, each answered 404 (counted as answered)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{bench.args.wrk_threads}",
        f"-c{bench.args.single_connections}",
        f"-d{seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        bench.api_key,
        tag,
        *(["get"] if raw else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise BenchError(f"wrk failed: {err.decode()}{out.decode()}")
    summary = json.loads(lines[-1])
    socket_errors = sum(summary[k] for k in ("connect", "read", "write", "timeout"))
    wrong = summary["requests"] - summary["status"] if raw else summary["status"]
    return LoadResult(
        ok=summary["requests"] - wrong,
        failed=wrong + socket_errors,
        seconds=summary["duration_us"] / 1e6,
        client_cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )


async def httpx_load(
    bench: Bench, url: str, seconds: float, tag: str, *, raw: bool = False
) -> LoadResult:
    """The fallback without wrk: concurrent httpx clients (they saturate before the server).
    ``raw``: GETs of an unknown loan (404) instead of reports."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    headers = {"Authorization": f"Bearer {bench.api_key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as http:
            count = 0
            while time.perf_counter() < deadline:
                count += 1
                sent = time.perf_counter()
                if raw:
                    response = await http.get("/v1/loans/RAW-LIMIT-UNKNOWN")
                    failed += response.status_code != 404
                else:
                    body = orjson.dumps(report(f"S-{tag}-{number}-{count}"))
                    response = await http.post("/v1/overdue-loans", content=body)
                    failed += response.status_code not in (200, 202)
                latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(bench.args.single_connections)))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    return LoadResult(
        ok=len(latencies) - failed,
        failed=failed,
        seconds=elapsed,
        client_cpu=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
    )


async def single_reports(bench: Bench, figures: Figures) -> None:
    figures.generator = generator(install=not bench.args.no_install)
    load = wrk if figures.generator == "wrk" else httpx_load
    print(
        f"single reports: {figures.generator}, {bench.args.single_connections} connections,",
        f"{bench.args.single_seconds:.0f} s a run; raw limit: authenticated GET of an unknown",
        "loan (404), same server and load generator",
        flush=True,
    )
    seconds = bench.args.single_seconds
    async with bench.server(relay=False) as server:
        await load(bench, server.url, 3, f"{bench.database}w")  # warm-up
        for run in range(bench.args.runs):
            before = await bench.scalar("SELECT count(*) FROM loan_events")
            result = await load(bench, server.url, seconds, f"{bench.database}{run}")
            await asyncio.sleep(0.5)  # requests wrk gave up on at its deadline may still commit
            recorded = await bench.scalar("SELECT count(*) FROM loan_events") - before
            if result.failed or recorded < result.ok:
                raise BenchError(
                    f"{result.failed} requests failed; {result.ok} answered, {recorded} recorded"
                )
            raw = await load(bench, server.url, seconds, f"{bench.database}{run}", raw=True)
            if raw.failed:
                raise BenchError(f"raw limit: {raw.failed} GETs failed, {raw.ok} answered")
            figures.add(
                "single",
                result.ok / result.seconds,
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms (raw p99"
                f" {raw.p99_ms:.1f} ms), load generator"
                f" {100 * result.client_cpu / result.seconds:.0f}% of a core",
                raw.ok / raw.seconds,
            )


# (c) Relay.


async def relay(bench: Bench, figures: Figures) -> None:
    events = bench.args.relay_events
    print(f"relay: {events:,} outbox rows a run; raw limit: bare aiokafka produce of the", end=" ")
    print("same messages with the relay's producer settings", flush=True)
    missing = events - await bench.scalar("SELECT count(*) FROM outbox")
    if missing > 0:
        print(f"  pre-filling the outbox through the batch API: {missing:,} reports", flush=True)
        async with bench.server(relay=False) as server:
            await post_batches(bench, server.url, "R", -(-missing // BATCH_SIZE) * BATCH_SIZE)
    await bench.execute(
        "CREATE TABLE bench_outbox AS SELECT id, event_id, message_key, payload FROM outbox"
        " ORDER BY id LIMIT :events",
        events=events,
    )
    for run in range(bench.args.runs):
        namespace = f"{bench.namespace}relay{run}."
        topic = Topic.LOANS.qualified(namespace)
        await bench.execute("TRUNCATE outbox")
        async with bench.server(relay=True, namespace=namespace):
            await bench.execute(
                "INSERT INTO outbox (event_id, topic, message_key, payload)"
                " SELECT event_id, :topic, message_key, payload FROM bench_outbox ORDER BY id",
                topic=topic,
            )
            started = time.perf_counter()
            await _until(
                lambda: bench.scalar(
                    "SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"
                ),
                within=600.0,
            )
            elapsed = time.perf_counter() - started
        on_topic = await _messages_on(bench.infra.kafka_bootstrap, topic)
        if on_topic != events:
            raise BenchError(f"{events} events in the outbox, {on_topic} on {topic}")
        raw = await produce_limit(bench, f"{bench.namespace}rawrelay{run}.", topic)
        figures.add("relay", events / elapsed, f"{on_topic:,} on the topic", raw)


async def produce_limit(bench: Bench, namespace: str, like: str) -> float:
    """Events/s a bare aiokafka producer (the relay's settings) sends of the same messages, to
    a new topic with as many partitions as the relay's topic ``like``."""
    async with bench.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT message_key, payload FROM bench_outbox ORDER BY id")
        )
        messages = [(row.message_key.encode(), bytes(row.payload)) for row in rows]
    topic = Topic.LOANS.qualified(namespace)
    partitions = len(await _partitions_of(bench.infra.kafka_bootstrap, like))
    await ensure_topics(bench.infra.kafka_bootstrap, [topic], partitions)
    producer = create_producer(bench.infra.kafka_bootstrap, "bench-raw-produce")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        started = time.perf_counter()
        sent = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*sent)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return len(messages) / elapsed


async def _until(probe: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise BenchError(f"not done after {within:.0f} s")
        await asyncio.sleep(0.02)


async def _messages_on(bootstrap: str, topic: str) -> int:
    """How many messages the topic holds (the sum of its partitions' end offsets)."""
    partitions = await _partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        offsets = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return int(sum(offsets.values()))


async def _partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in description["partitions"]]


# (d) Where a batch report's CPU goes: the ceiling of the batch figure on this machine.


async def costs(bench: Bench, figures: Figures) -> None:
    """CPU per report of the batch path's parts, measured in this process on 1,000-report
    batches: validation, the use case in Python (envelopes, sealing, SQLAlchemy, asyncpg), and
    the PostgreSQL backend (read from /proc when the server runs on this machine)."""
    batches, size = 5, BATCH_SIZE
    print(f"costs: {batches} batches of {size:,} reports, in this process", flush=True)
    keys = bench.keys
    sealing = Sealing(
        storage=KeyRing.parse(keys.storage_keys["intake"]),
        transit=KeyRing.parse(keys.transit_keys),
        pseudonyms=Pseudonymizer(keys.pseudonym_key.encode()),
    )
    handlers = IntakeHandlers(sealing)
    namespace = bench.namespace
    run = uuid4().hex[:6]
    items = [[report(f"C{run}{b}-{n}") for n in range(size)] for b in range(batches + 1)]
    started = time.process_time()
    reports = TypeAdapter(list[OverdueLoanReport])  # as the batch route: one validation
    validated = [
        ReportOverdueLoans(tuple(report.command() for report in reports.validate_python(batch)))
        for batch in items
    ]
    validation = (time.process_time() - started) / len(items) / size
    engine = create_engine(bench.database_url, pool_size=1)
    sessions = create_session_factory(engine)
    python = backend = 0.0
    try:
        for number, batch in enumerate(validated):
            async with SqlUnitOfWork(sessions, lambda t: t.qualified(namespace)) as uow:
                pid = await uow.session.scalar(text("SELECT pg_backend_pid()"))
                python_before, backend_before = time.process_time(), _cpu_seconds(pid)
                await handlers.report_overdue_loans(uow, "lender-costs", batch)
                await uow.commit()
            if number:  # the first one warms caches up
                python += time.process_time() - python_before
                backend += _cpu_seconds(pid) - backend_before
    finally:
        await engine.dispose()
    figures.costs = {
        "validation (pydantic, phonenumbers, email-validator)": validation * 1e6,
        "use case in Python (envelopes, sealing, SQLAlchemy, asyncpg)": python
        / batches
        / size
        * 1e6,
        "PostgreSQL backend (3 inserts, 8 index entries)": backend / batches / size * 1e6,
    }
    for what, micros in figures.costs.items():
        print(f"  {micros:6.1f} µs  {what}", flush=True)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a local process (0 when it is not on this machine)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Set-up, clean-up, the table.


@contextlib.asynccontextmanager
async def bench_stack(args: argparse.Namespace) -> AsyncIterator[Bench]:
    """A fresh database (migrated, with a lender key) and topic namespace; both gone after."""
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT, kafka_port=19292, postgres_port=54359, cache_dir=DEFAULT_CACHE
    )
    tag = uuid4().hex[:10]
    async with infra:
        database = f"bench_{tag}"
        await infra.create_database(database)
        engine = create_engine(infra.postgres_url(database), pool_size=2)
        bench = Bench(args, infra, database, f"bench{tag}.", engine)
        bench.logs.mkdir(parents=True, exist_ok=True)
        try:
            await upgrade_to_head(MIGRATIONS, bench.database_url)
            await issue_demo_keys(infra.kafka_bootstrap, bench.credentials, bench.namespace)
            yield bench
        finally:
            await engine.dispose()
            if not args.keep:
                await _drop(infra, database, bench.namespace)


async def _drop(infra: LocalInfrastructure, database: str, namespace: str) -> None:
    engine = create_async_engine(infra.postgres_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await engine.dispose()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if name.startswith(namespace)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def table(figures: Figures, args: argparse.Namespace) -> str:
    """Medians of the runs, each figure over its raw limit measured in the same run; the gap is
    how far the median ratio is from the issue's aim, where it sets one."""
    lines = [
        f"{os.cpu_count()} cores, {args.workers} intake worker(s), median of {args.runs} runs,"
        f" {datetime.now(UTC):%Y-%m-%d}"
        + (f", batch load generator: {figures.batch_generator}" if figures.batch_generator else "")
        + (f", single-report load generator: {figures.generator}" if figures.generator else ""),
    ]
    if figures.runs:
        lines += [
            "",
            "| figure | median | raw limit (same run) | median | ratio | runs' ratios | aim |",
            "|---|---|---|---|---|---|---|",
        ]
    for figure in FIGURES:
        runs = figures.runs.get(figure.key)
        if not runs:
            continue
        ratio = statistics.median(figures.ratios(figure.key))
        each = " / ".join(f"{value:.2f}" for value in figures.ratios(figure.key))
        if figure.aim is None:
            aim = "—"
        elif ratio >= figure.aim:
            aim = f"≥ {figure.aim} met (+{ratio - figure.aim:.2f})"
        else:
            aim = f"≥ {figure.aim}: gap {figure.aim - ratio:.2f} (×{figure.aim / ratio:.1f})"
        lines.append(
            f"| {figure.what} | {statistics.median(runs):,.0f} {figure.unit} | {figure.raw} |"
            f" {statistics.median(figures.raw[figure.key]):,.0f} {figure.unit} |"
            f" **{ratio:.2f}** | {each} | {aim} |"
        )
    if figures.costs:
        total = sum(figures.costs.values())
        ceiling = (os.cpu_count() or 1) * 1e6 / total
        lines += ["", "| CPU per batch report | µs |", "|---|---|"]
        lines += [f"| {what} | {micros:.0f} |" for what, micros in figures.costs.items()]
        lines.append(
            f"| **total** (all cores busy with nothing else: ≤ {ceiling:,.0f}/s) | {total:.0f} |"
        )
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


SCENARIOS = {"batch": batch_intake, "single": single_reports, "relay": relay, "costs": costs}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.intake", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--workers", type=int, default=2, help="intake worker processes")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--batch-reports", type=int, default=50_000, help="per run")
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--single-seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--single-connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--relay-events", type=int, default=100_000, help="per run")
    parser.add_argument(
        "--baseline",
        metavar="TREE",
        type=Path,
        help="a checkout of the code to compare with (e.g. `git archive b20 | tar -x -C TREE`):"
        " its batch figure is measured in the same run, alternating with this tree's",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and topics")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install wrk (httpx fallback)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 run, smaller figures: for development"
    )
    return parser


async def main(args: argparse.Namespace) -> Figures:
    figures = Figures()
    async with bench_stack(args) as bench:
        print(f"database {bench.database}, topics {bench.namespace}*", flush=True)
        for name in args.only:
            await SCENARIOS[name](bench, figures)
    return figures


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.quick:
        arguments.runs, arguments.batch_reports, arguments.relay_events = 1, 10_000, 20_000
        arguments.single_seconds = 5.0
    try:
        results = asyncio.run(main(arguments))
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    print()
    print(table(results, arguments))
