"""Reminders sent per second end to end, against the raw limit: ``python -m benchmarks.notifier``.

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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import httpx
from sqlalchemy import text

from benchmarks.intake import BENCH_ROOT, BenchError, Figures, _drop, _free_port
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
from shared.events.models import BorrowerContact
from shared.events.money import Money
from shared.vocabulary import Channel, Jurisdiction

NOTIFIER = next(service for service in SERVICES if service.name == "notifier")
ACCOUNT = "AC00000000000000000000000000000000"
AUTH = (ACCOUNT, "local-twilio-auth-token")


class Process:
    """A child process (the notifier or the local providers), stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str], ready_url: str, log: str) -> None:
        self.argv, self.env, self.ready_url, self.log = argv, env, ready_url, log
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Process:
        with (BENCH_ROOT / "logs" / self.log).open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log
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
    verdict = "PASS" if statistics.median(ratios) >= 0.5 else "MISS"

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
            f"| ratio (aim ≥ 0.5) | **{statistics.median(ratios):.2f}** {verdict} | {each} |",
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


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notifier", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--reminders", type=int, default=5000, help="per run")
    parser.add_argument("--concurrency", type=int, default=100)
    return parser


if __name__ == "__main__":
    arguments = parser().parse_args()
    try:
        results = asyncio.run(main(arguments))
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    print()
    print(table(results, arguments))
    print(json.dumps(results.runs))
