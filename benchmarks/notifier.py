"""Notifier figures against their raw limits: ``python -m benchmarks.notifier [--consumer]``.

Reminders sent (the default):

- **sender**: ``python -m services.notifier`` in its own process, with ``--reminders`` due
  reminders in its database (one borrower each, in the borrower's afternoon): each claimed with
  ``FOR UPDATE SKIP LOCKED``, its loan file read, the contact rules checked against the ledger,
  the template rendered, the contact details opened, the request accepted by the local Twilio
  endpoint, the outcome recorded with its history, ledger entry and outbox event. Timed from
  the moment the reminders fall due until the last one is recorded.
- **raw**: the same number of the same Twilio requests (form body, Basic auth) posted by a bare
  httpx loop with the sender's concurrency (``--concurrency``, httpx's default pool of 100
  connections in both), to the same endpoint in the same run.

The local providers run as their own process (``python -m deploy.local_providers``), without
status callbacks, so both figures pay for the same endpoint and nothing else. Kafka and
PostgreSQL come from ``COLLECTIONS_KAFKA_BOOTSTRAP``/``COLLECTIONS_POSTGRES_URL`` or a local
stack in ``.devstack-bench/``. Prints each run, then a Markdown table of medians and the ratio,
and the CPU time each message costs the notifier process (sender runs) and the bare loop's own
process (raw runs): a figure the other loads on a shared machine move much less than rates.

The consumer (``--consumer``): lifecycle events recorded per second by the notifier's real
consumer (``python -m services.notifier`` without its sender), against the raw limit in the
same run. ``--reports`` overdue reports (the envelopes intake publishes: ``OVERDUE_REPORTED``,
contact sealed with the transit keys; days past due 1..60 in turn, so about half get reminders
planned) go onto the loans topic of a fresh namespace; once the notifier has recorded them,
an ``ASSIGNMENT_PLACED`` for a ``--placed`` share of them (the gateway's, in the whole platform:
the CN-09 notices). Timed from the first message produced until the notifier's inbox holds
every event (its files, plans, history and outbox events are written in the same
transactions). Raw limit: the same messages produced to a fresh topic and consumed by a bare
aiokafka group that COPYs the rows the notifier wrote (its ``loans`` and ``notifications``,
as ``benchmarks.pipeline`` does) into copies of its tables, in step with what it consumed.
``--baseline DIR`` also runs the notifier of another checkout (e.g. ``git archive b20``),
alternating with this one, each against its own raw run: a before/after pair in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from benchmarks.intake import BENCH_ROOT, BenchError, Figures, _drop, _free_port
from benchmarks.pipeline import TABLES as PIPELINE_TABLES
from benchmarks.pipeline import Copier, create_topic, produce_all, rows_of
from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE, REPO_ROOT
from deploy.devstack.platform import SERVICES, PlatformSecrets, service_environment
from services.notifier.adapters.case_batch_store import SqlCaseBatchStore
from services.notifier.adapters.contact_details import CONTACT
from services.notifier.domain.files import Case
from services.notifier.domain.lifecycle import CaseBatch
from services.notifier.settings import NotifierSettings
from services.notifier.wiring import MIGRATIONS, load_rules
from shared.crypto import KeyRing
from shared.db.engine import create_engine, create_session_factory, transaction
from shared.db.migrations import upgrade_to_head
from shared.events.assignments import AssignmentPlaced
from shared.events.catalog import ASSIGNMENT_PLACED, OVERDUE_REPORTED
from shared.events.models import BorrowerContact, BorrowerProfile, OverdueReported
from shared.events.money import Money
from shared.events.topics import Topic
from shared.vocabulary import Channel, Jurisdiction

NOTIFIER = next(service for service in SERVICES if service.name == "notifier")
ACCOUNT = "AC00000000000000000000000000000000"
AUTH = (ACCOUNT, "local-twilio-auth-token")


class Process:
    """A child process (the notifier or the local providers), stopped with SIGTERM."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        ready_url: str,
        log: str,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.argv, self.env, self.ready_url, self.log, self.cwd = argv, env, ready_url, log, cwd
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Process:
        with (BENCH_ROOT / "logs" / self.log).open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(self.ready_url)).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if self.process.returncode is not None:
                    raise BenchError(f"{self.argv[2]} exited; see .devstack-bench/logs/{self.log}")
                await asyncio.sleep(0.2)
        raise BenchError(f"{self.argv[2]} not ready; see .devstack-bench/logs/{self.log}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (Linux ``/proc``)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def __aexit__(self, *_: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def afternoon_zone() -> str:
    offset = (14 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def seed(database_url: str, secrets: PlatformSecrets, count: int, lender: str) -> None:
    """``count`` loans, each with its cadence laid out by the notifier's own case batch, the
    first reminder of each to fall due when the run starts (far in the future until then)."""
    _, _, policies = load_rules(NotifierSettings())
    policy = policies.select(lender, "consumer-credit", Jurisdiction.CN.value)
    ring = KeyRing.parse(secrets.storage_keys["notifier"])
    engine = create_engine(database_url, pool_size=2)
    sessions = create_session_factory(engine)
    zone = afternoon_zone()
    today = datetime.now(UTC).date()
    try:
        for start in range(0, count, 1000):
            book = CaseBatch(policies, datetime.now(UTC))
            for number in range(start, min(start + 1000, count)):
                file = bench_case(lender, f"BENCH-{number:07d}", number, zone, today, ring)
                file.policy_id, file.policy_version = policy.id, policy.version
                book.report(file)
            async with transaction(sessions) as session:
                await SqlCaseBatchStore(session).save(book)
                await session.execute(
                    text("UPDATE notifications SET due_at = now() + interval '10 years'")
                )
    finally:
        await engine.dispose()


def bench_case(
    lender: str, loan_id: str, number: int, zone: str, today: date, ring: KeyRing
) -> Case:
    contact = BorrowerContact(name="张三", phone=f"+86138{number:08d}", email=None)
    row = {"lender_id": lender, "loan_id": loan_id}
    sealed = CONTACT.seal(ring, contact.model_dump_json().encode(), row)
    return Case(
        lender_id=lender,
        loan_id=loan_id,
        borrower_ref=f"bref_bench{number:07d}",
        jurisdiction=Jurisdiction.CN,
        product="consumer-credit",
        locale="zh-CN",
        timezone=zone,
        due_date=today - timedelta(days=1),
        days_past_due=1,
        as_of=datetime.now(UTC),
        amount_overdue=str(Money(amount=Decimal("1250.00"), currency="CNY").amount),
        currency="CNY",
        contact_sealed=sealed,
        phone_refs=[],
        reachable=frozenset({Channel.SMS}),
        policy_id="cn-default",
        policy_version="",
    )


async def sender_run(database_url: str, count: int) -> float:
    """Reminders per second: all first steps fall due now; the clock stops at the last record."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:  # a new day: no earlier run's texts count
            await connection.execute(text("DELETE FROM contacts"))
            await connection.execute(
                text(
                    "UPDATE notifications SET status = 'scheduled', due_at = now(), "
                    "attempts = 0, lease_until = NULL WHERE step = 1"
                )
            )
        started = time.monotonic()
        while True:
            async with engine.connect() as connection:
                done = await connection.scalar(
                    text("SELECT count(*) FROM notifications WHERE step = 1 AND status = 'sent'")
                )
            if done == count:
                return count / (time.monotonic() - started)
            if time.monotonic() - started > 600:
                raise BenchError(f"only {done} of {count} reminders sent in 10 minutes")
            await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


async def raw_run(providers_url: str, count: int, concurrency: int) -> float:
    """The same requests, straight from a loop: the limit the endpoint sets."""
    url = f"{providers_url}/twilio/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    body = "【Demo】张三您好，您尾号0001的借款已逾期1天，待还¥1,250.00。如已还款请忽略。回复TD退订"
    numbers = iter(range(count))
    async with httpx.AsyncClient(auth=AUTH, timeout=30) as client:

        async def worker() -> None:
            for number in numbers:
                answer = await client.post(
                    url, data={"To": f"+86139{number:08d}", "From": "+15005550006", "Body": body}
                )
                if answer.status_code != 201:
                    raise BenchError(f"raw request refused: {answer.status_code} {answer.text}")

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.monotonic() - started)


@asynccontextmanager
async def stack(args: argparse.Namespace) -> AsyncIterator[tuple[str, str, Process]]:
    """The database (seeded), the local providers and the notifier; yields both URLs and the
    notifier's process."""
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT, kafka_port=19292, postgres_port=54359, cache_dir=DEFAULT_CACHE
    )
    (BENCH_ROOT / "logs").mkdir(parents=True, exist_ok=True)
    tag = uuid4().hex[:10]
    database, namespace = f"bench_notifier_{tag}", f"bench{tag}."
    secrets = PlatformSecrets.generate()
    async with infra:
        await infra.create_database(database)
        url = infra.postgres_url(database)
        try:
            await upgrade_to_head(MIGRATIONS, url)
            await seed(url, secrets, args.reminders, "lender-demo")
            providers_port, notifier_port = _free_port(), _free_port()
            providers = f"http://127.0.0.1:{providers_port}"
            env = service_environment(NOTIFIER, url, infra.kafka_bootstrap, secrets, namespace)
            env |= {
                "NOTIFIER_HTTP_PORT": str(notifier_port),
                "NOTIFIER_LOG_LEVEL": "WARNING",
                "NOTIFIER_TWILIO_BASE_URL": f"{providers}/twilio",
                "NOTIFIER_TWILIO_STATUS_CALLBACK_URL": "",
                "NOTIFIER_TWILIO_RATE_PER_SECOND": "1000000",
                "NOTIFIER_SENDER_BATCH_SIZE": str(args.concurrency),
                "NOTIFIER_SMS_PROVIDERS": "twilio",
            }
            emulator = [sys.executable, "-m", "deploy.local_providers"]
            emulator += ["--http-port", str(providers_port), "--smtp-port", str(_free_port())]
            async with (
                Process(emulator, {}, f"{providers}/readyz", "local-providers.log"),
                Process(
                    [sys.executable, "-m", "services.notifier"],
                    env,
                    f"http://127.0.0.1:{notifier_port}/readyz",
                    "notifier.log",
                ) as notifier,
            ):
                yield url, providers, notifier
        finally:
            await _drop(infra, database, namespace)


async def main(args: argparse.Namespace) -> Figures:
    figures = Figures()
    print("load generator: none (the sender's due reminders); raw limit: a bare httpx loop")
    async with stack(args) as (database_url, providers_url, notifier):
        for _ in range(args.runs):
            note = f"{args.reminders:,} reminders, concurrency {args.concurrency}"
            used = notifier.cpu_seconds()
            figures.add("sender", await sender_run(database_url, args.reminders), note)
            cpu_ms("sender", figures, notifier.cpu_seconds() - used, args.reminders)
            used = _own_cpu_seconds()
            figures.add("raw", await raw_run(providers_url, args.reminders, args.concurrency), note)
            cpu_ms("raw", figures, _own_cpu_seconds() - used, args.reminders)
    return figures


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def cpu_ms(key: str, figures: Figures, seconds: float, messages: int) -> None:
    """CPU milliseconds per message of the process that sent them (``<key>_cpu_ms``)."""
    figures.runs.setdefault(f"{key}_cpu_ms", []).append(1000 * seconds / messages)
    print(f"  {key} CPU: {1000 * seconds / messages:.2f} ms a message", flush=True)


def table(figures: Figures, args: argparse.Namespace) -> str:
    sender, raw = (statistics.median(figures.runs[k]) for k in ("sender", "raw"))
    ratios = [s / r for s, r in zip(figures.runs["sender"], figures.runs["raw"], strict=True)]
    each = " / ".join(f"{value:.2f}" for value in ratios)
    verdict = "PASS" if statistics.median(ratios) >= 0.75 else "MISS"

    def cpu(key: str) -> str:
        return f"{statistics.median(figures.runs[f'{key}_cpu_ms']):.2f}"

    return "\n".join(
        [
            f"{os.cpu_count()} cores, median of {args.runs} runs, {datetime.now(UTC):%Y-%m-%d}",
            "",
            "| figure | median | runs |",
            "|---|---|---|",
            f"| reminders sent end to end | **{sender:,.0f}/s** | "
            + " / ".join(f"{v:,.0f}" for v in figures.runs["sender"])
            + " |",
            f"| raw limit (bare httpx loop, same requests) | **{raw:,.0f}/s** | "
            + " / ".join(f"{v:,.0f}" for v in figures.runs["raw"])
            + " |",
            f"| ratio (aim ≥ 0.75) | **{statistics.median(ratios):.2f}** {verdict} | {each} |",
            f"| CPU a message: notifier / bare loop | **{cpu('sender')} / {cpu('raw')} ms** | "
            + " / ".join(
                f"{s:.2f}/{r:.2f}"
                for s, r in zip(
                    figures.runs["sender_cpu_ms"], figures.runs["raw_cpu_ms"], strict=True
                )
            )
            + " |",
        ]
    )


# The consumer: lifecycle events recorded per second, against consume + COPY.


def lifecycle_messages(
    prefix: str, count: int, placed: float, transit: KeyRing, lender: str
) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """``count`` overdue reports as intake publishes them (contact sealed for transit, days
    past due 1..60 in turn), and the gateway's placement of a ``placed`` share of those loans."""
    now = datetime.now(UTC)
    today = now.date()
    reports, placements = [], []
    for n in range(count):
        loan_id, ref = f"{prefix}-{n}", f"bref_{prefix}_{n}"
        contact = BorrowerContact(
            name="Bench Borrower", phone=f"+86138{n % 10**8:08d}", email=f"{loan_id}@example.com"
        )
        days = 1 + n % 60
        report = OverdueReported(
            loan_id=loan_id,
            borrower=BorrowerProfile(
                ref=ref,
                contact=transit.seal(contact.model_dump_json().encode(), ref.encode()),
                locale="zh-CN",
                timezone="Asia/Shanghai",
            ),
            jurisdiction="CN",
            product="consumer-credit",
            amount_overdue=Money(amount=Decimal("1250.00"), currency="CNY"),
            due_date=today - timedelta(days=days),
            days_past_due=days,
            as_of=now - timedelta(hours=1),
        )
        envelope = OVERDUE_REPORTED.envelope(
            source="/collections/intake", subject=loan_id, tenant=lender, data=report
        )
        reports.append((envelope.key.encode(), envelope.to_bytes()))
        if n < round(count * placed):
            placement = AssignmentPlaced(
                assignment_id=f"A-{loan_id}",
                loan_id=loan_id,
                borrower_ref=ref,
                agency_id="bench-agency",
                agency_name="Bench Agency",
                agency_phone="+862100000000",
                placed_at=now,
                policy_version="bench",
                reason="threshold",
            )
            envelope = ASSIGNMENT_PLACED.envelope(
                source="/collections/agency-gateway", subject=loan_id, tenant=lender, data=placement
            )
            placements.append((envelope.key.encode(), envelope.to_bytes()))
    return reports, placements


async def _inbox_count(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM inbox"))


async def until_inbox(connection: asyncpg.Connection, count: int, within: float = 1800) -> None:
    """Wait until the notifier's inbox holds ``count`` events (each applied in the transaction
    that wrote its inbox row)."""
    deadline = time.monotonic() + within
    while (got := await _inbox_count(connection)) < count:
        if time.monotonic() > deadline:
            raise BenchError(f"the notifier recorded {got} of {count} events in {within:.0f} s")
        await asyncio.sleep(0.05)


class PostgresCpu:
    """CPU seconds the PostgreSQL server has used (postmaster, its live backends, and the
    exited ones it waited for), when it runs on this machine; NaN otherwise."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid

    @classmethod
    async def of(cls, connection: asyncpg.Connection) -> PostgresCpu:
        try:
            folder = Path(await connection.fetchval("SHOW data_directory"))
            return cls(int((folder / "postmaster.pid").read_text().split()[0]))
        except (OSError, ValueError, asyncpg.PostgresError):
            return cls(None)

    def seconds(self) -> float:
        if self.pid is None:
            return float("nan")
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(stat.parent.name)
            if pid == self.pid:
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick


async def notifier_consumer_run(
    url: str, bootstrap: str, namespace: str, messages: tuple[list[Any], list[Any]]
) -> float:
    """Events/s: the reports produced until all recorded, then the placements likewise."""
    reports, placements = messages
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        base = await _inbox_count(connection)
        postgres = await PostgresCpu.of(connection)
        used = postgres.seconds()
        started = time.perf_counter()
        await asyncio.gather(
            produce_all(bootstrap, Topic.LOANS.qualified(namespace), reports),
            until_inbox(connection, base + len(reports)),
        )
        await asyncio.gather(
            produce_all(bootstrap, Topic.ASSIGNMENTS.qualified(namespace), placements),
            until_inbox(connection, base + len(reports) + len(placements)),
        )
        elapsed = time.perf_counter() - started
        count = len(reports) + len(placements)
        print(f"  PostgreSQL CPU: {1e6 * (postgres.seconds() - used) / count:,.0f} µs an event")
        return count / elapsed
    finally:
        await connection.close()


async def raw_consumer_run(
    url: str, bootstrap: str, namespace: str, prefix: str, messages: list[Any]
) -> float:
    """Events/s through bare aiokafka: the same messages produced to a fresh topic, consumed
    by a bare group (joined before the clock starts, batches of 500 as the notifier's runner
    takes them) that COPYs the notifier's rows of them into copies of its tables and commits
    its offsets after each batch."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    rows = {table: await rows_of(dsn, table, prefix) for table in PIPELINE_TABLES["notifier"]}
    topic = f"{namespace}raw-{prefix}"
    await create_topic(bootstrap, topic)
    copier = Copier(bootstrap, topic, dsn, rows, len(messages))
    connection = await copier.prepare()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{prefix}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # joined before the clock starts, as the notifier is
            await consumer.getmany(timeout_ms=100)
        postgres = await PostgresCpu.of(connection)
        used = postgres.seconds()
        started = time.perf_counter()

        async def consume() -> None:
            seen = 0
            while seen < len(messages):
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                got = sum(len(records) for records in batches.values())
                if got:
                    now = min(seen + got, len(messages))
                    await copier.copy_up_to(connection, seen, now)
                    seen = now
                    await consumer.commit()

        await asyncio.gather(produce_all(bootstrap, topic, messages), consume())
        elapsed = time.perf_counter() - started
        cpu = 1e6 * (postgres.seconds() - used) / len(messages)
        print(f"  PostgreSQL CPU (raw): {cpu:,.0f} µs an event")
        return len(messages) / elapsed
    finally:
        await consumer.stop()
        await copier.drop(connection)


async def consumer_variant(
    infra: LocalInfrastructure,
    args: argparse.Namespace,
    figures: Figures,
    name: str,
    root: Path,
    run: int,
) -> None:
    """One run of the notifier of ``root``: a fresh database and namespace, its consumer's
    rate, its CPU per event, then the raw limit over the same messages and rows."""
    tag = uuid4().hex[:8]
    database, namespace, prefix = f"bench_consumer_{tag}", f"bench{tag}.", f"C{run}{tag}"
    secrets = PlatformSecrets.generate()
    messages = lifecycle_messages(
        prefix, args.reports, args.placed, KeyRing.parse(secrets.transit_keys), "lender-demo"
    )
    count = len(messages[0]) + len(messages[1])
    await infra.create_database(database)
    url = infra.postgres_url(database)
    try:  # the notifier migrates its database itself (each checkout to its own head)
        port = _free_port()
        env = service_environment(NOTIFIER, url, infra.kafka_bootstrap, secrets, namespace)
        env |= {
            "NOTIFIER_HTTP_PORT": str(port),
            "NOTIFIER_LOG_LEVEL": "WARNING",
            "NOTIFIER_SENDER": "false",
        }
        argv = [sys.executable, "-m", "services.notifier"]
        ready = f"http://127.0.0.1:{port}/readyz"
        async with Process(argv, env, ready, f"notifier-{name}.log", cwd=root) as notifier:
            assert notifier.process is not None
            spy = await _py_spy(args, notifier.process.pid, f"{name}-{run}")
            used = notifier.cpu_seconds()
            rate = await notifier_consumer_run(url, infra.kafka_bootstrap, namespace, messages)
            cpu = notifier.cpu_seconds() - used
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
        raw = await raw_consumer_run(
            url, infra.kafka_bootstrap, namespace, prefix, [*messages[0], *messages[1]]
        )
    finally:
        await _drop(infra, database, namespace)
    note = f"{args.reports:,} reports + {len(messages[1]):,} placements"
    figures.add(name, rate, note)
    figures.add(f"{name}_raw", raw, note)
    figures.runs.setdefault(f"{name}_cpu_us", []).append(1e6 * cpu / count)
    print(
        f"  {name}: {rate:,.0f} events/s, raw {raw:,.0f}/s, ratio {rate / raw:.2f}, "
        f"CPU {1e6 * cpu / count:,.0f} µs an event (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )


async def _py_spy(
    args: argparse.Namespace, pid: int, label: str
) -> asyncio.subprocess.Process | None:
    """py-spy recording the notifier while it consumes (``--py-spy DIR``), raw samples."""
    if args.py_spy is None:
        return None
    args.py_spy.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    out = args.py_spy / f"notifier-consumer-{label}.txt"
    return await asyncio.create_subprocess_exec(
        str(spy),
        "record",
        "-p",
        str(pid),
        "-r",
        "50",
        "--format",
        "raw",
        "-o",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def consumer_main(args: argparse.Namespace) -> Figures:
    figures = Figures()
    variants = [("notifier", REPO_ROOT)]
    if args.baseline is not None:
        variants.insert(0, ("baseline", args.baseline.resolve()))
    print("load generator: aiokafka producer (the events); raw limit: bare aiokafka + COPY")
    (BENCH_ROOT / "logs").mkdir(parents=True, exist_ok=True)
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT, kafka_port=19292, postgres_port=54359, cache_dir=DEFAULT_CACHE
    )
    async with infra:
        for run in range(args.runs):
            for name, root in variants if run % 2 == 0 else variants[::-1]:
                await consumer_variant(infra, args, figures, name, root, run)
    return figures


def consumer_table(figures: Figures, args: argparse.Namespace) -> str:
    lines = [
        f"{os.cpu_count()} cores, median of {args.runs} runs, {datetime.now(UTC):%Y-%m-%d}, "
        f"{args.reports:,} reports a run, placements for {args.placed:.0%} of them",
        "",
        "| notifier | events recorded/s | raw (consume + COPY) | ratio (runs) | CPU an event "
        "| aim |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("baseline", "notifier"):
        if name not in figures.runs:
            continue
        got, raw = figures.runs[name], figures.runs[f"{name}_raw"]
        ratios = [g / r for g, r in zip(got, raw, strict=True)]
        ratio = statistics.median(ratios)
        lines.append(
            f"| {name} | {statistics.median(got):,.0f} | {statistics.median(raw):,.0f} "
            f"| **{ratio:.2f}** ({' / '.join(f'{r:.2f}' for r in ratios)}) "
            f"| {statistics.median(figures.runs[f'{name}_cpu_us']):,.0f} µs "
            f"| ≥ 0.5 {'PASS' if ratio >= 0.5 else 'MISS'} |"
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notifier", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--reminders", type=int, default=5000, help="per run")
    parser.add_argument("--concurrency", type=int, default=100)
    consumer = parser.add_argument_group("the consumer (--consumer)")
    consumer.add_argument("--consumer", action="store_true", help="measure the consumer instead")
    consumer.add_argument("--reports", type=int, default=10_000, help="per run")
    consumer.add_argument("--placed", type=float, default=0.8, help="share of reports placed")
    consumer.add_argument("--baseline", type=Path, help="another checkout's notifier, alternated")
    consumer.add_argument("--py-spy", type=Path, help="record py-spy profiles into this folder")
    return parser


T = TypeVar("T")


def run(figures: Coroutine[Any, Any, T]) -> T:
    """The benchmark's figures, or its failure said plainly (exit 1)."""
    try:
        return asyncio.run(figures)
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    arguments = parser().parse_args()
    if arguments.consumer:
        measured = run(consumer_main(arguments))
        print()
        print(consumer_table(measured, arguments))
        print(json.dumps(measured.runs))
        sys.exit(0)
    results = run(main(arguments))
    print()
    print(table(results, arguments))
    print(json.dumps(results.runs))
