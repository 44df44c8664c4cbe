"""Agency gateway figures on the local stack: ``python -m benchmarks.agency_gateway``.

Two figures, each beside its raw limit measured in the same run:

- placement: decisions per second from consumed events. ``--loans`` overdue reports (each
  past the threshold, sealed contact and all) go onto a fresh topic namespace; the gateway (its
  real app in this process: consumer, placement worker, outbox) runs until every loan holds an
  assignment. The raw limit, once the gateway's relay has published every placement (so that
  it does not share the event loop with it), consumes the same events and COPYs the same
  number of assignment-shaped rows into a scratch table, with no logic. Aim: at least half the
  raw rate. ``--paired N`` instead runs N rounds of placement decided in the placement worker
  and in the consumer, alternating, each on a database and topics of its own beside its own
  raw limit (``--prefill``: assignments already held when the reports come).
- the agency's list: ``GET /v1/assignments?limit=100`` p99 over ``--assignments`` assignments
  across ten agencies, each request from a random cursor, against the p99 of the same keyset
  query run directly. Aim: within three times the bare query's.

Kafka and PostgreSQL come from ``COLLECTIONS_KAFKA_BOOTSTRAP`` and ``COLLECTIONS_POSTGRES_URL``
when both are set, else from a local stack started in ``.devstack-bench/``. Prints the figures,
then a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

from benchmarks.intake import BENCH_ROOT, _drop
from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE
from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options
from services.agency_gateway.adapters.assignment_list import KEYSET_SQL
from services.agency_gateway.adapters.tables import agencies
from services.agency_gateway.api.assignments import encode_cursor
from shared.auth import Role
from shared.auth.registry import CredentialIssuer, credentials_topic, ensure_credentials_topic
from shared.crypto import KeyRing
from shared.db.engine import create_engine
from shared.events.catalog import OVERDUE_REPORTED
from shared.events.models import BorrowerProfile, OverdueReported
from shared.events.money import Money
from shared.events.topics import Topic
from shared.kafka.producer import create_producer
from shared.kafka.settings import KafkaSettings

GATEWAY = next(service for service in SERVICES if service.name == "agency_gateway")
LENDER = "lender-bench"
AGENCIES = [f"bench-agency-{n}" for n in range(10)]
KEYSET = KEYSET_SQL[(False, False, True)]  # what the API runs for a page after a cursor


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def until(probe: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done within {within} s")
        await asyncio.sleep(0.05)


def reports(loans: int, transit: KeyRing) -> list[tuple[bytes, bytes]]:
    as_of = datetime.now(UTC) - timedelta(hours=1)
    contact = json.dumps({"name": "Bench", "phone": "+8613800138000"}).encode()
    made = []
    for n in range(loans):
        ref = f"bref_{n}"
        data = OverdueReported(
            loan_id=f"L-bench-{n}",
            borrower=BorrowerProfile(
                ref=ref,
                contact=transit.seal(contact, ref.encode()),
                locale="zh-CN",
                timezone="Asia/Shanghai",
            ),
            jurisdiction="CN",
            product="consumer-credit",
            amount_overdue=Money(amount="1250.00", currency="CNY"),
            due_date=(as_of - timedelta(days=60)).date(),
            days_past_due=60,
            as_of=as_of,
        )
        envelope = OVERDUE_REPORTED.envelope(
            source="/bench", subject=data.loan_id, tenant=LENDER, data=data
        )
        made.append((envelope.key.encode(), envelope.to_bytes()))
    return made


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap).kafka_connection()
    producer = create_producer(kafka, client_id="bench")
    await producer.start()
    try:
        batch = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


async def raw_limit(bootstrap: str, topic: str, dsn: str, count: int) -> float:
    """Events per second consumed and COPYed as rows, with no logic in between."""
    connection = await asyncpg.connect(dsn)
    await connection.execute(
        "CREATE TEMP TABLE raw_assignments (LIKE assignments INCLUDING DEFAULTS)"
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    now = datetime.now(UTC)
    seen = 0
    started = time.perf_counter()
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            rows = [
                (
                    f"A-raw-{seen + i}",
                    LENDER,
                    record.key.decode() if record.key else "",
                    AGENCIES[0],
                    "placed",
                    "champion",
                    "v",
                    "raw",
                    1250,
                    "CNY",
                    now,
                    now,
                    now,
                    None,
                    None,
                    None,
                    None,
                    None,
                    now,
                    None,
                )
                for records in batches.values()
                for i, record in enumerate(records)
            ]
            if rows:
                await connection.copy_records_to_table("raw_assignments", records=rows)
                seen += len(rows)
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await connection.close()


async def placement(
    infra: LocalInfrastructure,
    namespace: str,
    loans: int,
    keys: PlatformSecrets,
    dsn: str,
) -> tuple[float, float]:
    topic = Topic.LOANS.qualified(namespace)
    messages = reports(loans, KeyRing.parse(keys.transit_keys))
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await produce(infra.kafka_bootstrap, topic, messages)

        async def all_placed() -> bool:
            placed = await connection.fetchval(
                "SELECT count(*) FROM assignments WHERE loan_id LIKE 'L-bench-%'"
            )
            return int(placed) >= loans

        await until(all_placed, within=1800)
        rate = loans / (time.perf_counter() - started)

        async def relayed() -> bool:  # the raw limit does not share the loop with the relay
            left = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return int(left) == 0

        await until(relayed, within=600)
    finally:
        await connection.close()
    raw = await raw_limit(infra.kafka_bootstrap, topic, dsn, loans)
    return rate, raw


async def fill(dsn: str, count: int) -> list[tuple[str, datetime, str]]:
    """``count`` assignments across the agencies; the cursors to start pages from."""
    connection = await asyncpg.connect(dsn)
    base = datetime.now(UTC) - timedelta(days=30)
    rows = []
    for n in range(count):
        at = base + timedelta(seconds=n)
        rows.append(
            (
                f"A-fill-{n:07d}",
                LENDER,
                f"L-fill-{n}",
                AGENCIES[n % len(AGENCIES)],
                "acknowledged",  # held, not lapsing: the placement worker leaves them be
                "champion",
                "v",
                "fill",
                Decimal(100),
                "CNY",
                at,
                at + timedelta(days=60),
                at + timedelta(days=90),
                at,
                None,
                None,
                None,
                None,
                at,
                None,
            )
        )
    try:
        await connection.copy_records_to_table("assignments", records=rows)
        await connection.execute("ANALYZE assignments")
    finally:
        await connection.close()
    first_agency = [r for r in rows if r[3] == AGENCIES[0]]
    return [(r[3], r[18], r[0]) for r in random.sample(first_agency, min(1000, len(first_agency)))]


async def listing(
    client: httpx.AsyncClient, key: str, dsn: str, cursors: list[tuple[str, datetime, str]]
) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {key}"}
    api: list[float] = []
    for _agency, at, assignment_id in cursors:
        cursor = encode_cursor({"updated_at": at, "assignment_id": assignment_id})
        started = time.perf_counter()
        answer = await client.get(
            "/v1/assignments", params={"limit": 100, "cursor": cursor}, headers=headers
        )
        api.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(answer.text)
    connection = await asyncpg.connect(dsn)
    bare: list[float] = []
    try:
        statement = await connection.prepare(KEYSET)
        for agency, at, assignment_id in cursors:
            started = time.perf_counter()
            await statement.fetch(agency, at, assignment_id, 101)
            bare.append(time.perf_counter() - started)
    finally:
        await connection.close()
    return p99(api), p99(bare)


async def register(url: str) -> None:
    """Ten agencies serving CN with equal shares and room for every loan."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            now = datetime.now(UTC)
            terms = {"jurisdictions": ["CN"], "regions": [], "capacity": 10**7, "share": 1}
            rows = [
                {"agency_id": a, "name": a, "active": True, "created_at": now, "updated_at": now}
                | terms
                for a in AGENCIES
            ]
            await connection.execute(insert(agencies).values(rows))
    finally:
        await engine.dispose()


async def placement_round(
    infra: LocalInfrastructure, args: argparse.Namespace, in_consumer: bool
) -> tuple[float, float]:
    """One placement run on a database and topics of its own: (decisions/s, raw/s)."""
    tag = uuid4().hex[:10]
    namespace, database = f"bench{tag}.", f"bench_gateway_{tag}"
    keys = PlatformSecrets.generate()
    await infra.create_database(database)
    url = infra.postgres_url(database)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    options = service_options(GATEWAY, url, infra.kafka_bootstrap, keys, namespace)
    more = {"placement_batch_size": 1000, "placement_in_consumer": in_consumer}
    app = build_app("agency_gateway", options | more)
    try:
        async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
            await register(url)
            if args.prefill:
                await fill(dsn, args.prefill)
            return await placement(infra, namespace, args.loans, keys, dsn)
    finally:
        await _drop(infra, database, namespace)


async def paired(infra: LocalInfrastructure, args: argparse.Namespace) -> list[dict[str, float]]:
    """``--paired`` rounds, each deciding in the placement worker (reports left due, claimed,
    then decided) and in the consumer (each case written once), alternating, each with its
    own raw limit measured right after it."""
    rounds = []
    for n in range(args.paired):
        found: dict[str, float] = {}
        order = (False, True) if n % 2 == 0 else (True, False)
        for in_consumer in order:
            rate, raw = await placement_round(infra, args, in_consumer)
            side = "consumer" if in_consumer else "worker"
            found[f"{side}_per_s"], found[f"{side}_raw_per_s"] = rate, raw
            found[f"{side}_ratio"] = rate / raw
        print(
            f"round {n + 1}: worker {found['worker_per_s']:,.0f}/{found['worker_raw_per_s']:,.0f}"
            f" = {found['worker_ratio']:.3f}; consumer {found['consumer_per_s']:,.0f}/"
            f"{found['consumer_raw_per_s']:,.0f} = {found['consumer_ratio']:.3f}",
            flush=True,
        )
        rounds.append(found)
    return rounds


def paired_table(rounds: list[dict[str, float]], args: argparse.Namespace) -> str:
    lines = [
        f"| decided in ({args.loans:,} loans, {args.prefill:,} assignments before) "
        "| decisions/s (median) | raw (median) | ratio per round | median ratio |",
        "|---|---|---|---|---|",
    ]
    for side in ("worker", "consumer"):
        ratios = [r[f"{side}_ratio"] for r in rounds]
        lines.append(
            f"| {side} | {statistics.median(r[f'{side}_per_s'] for r in rounds):,.0f} "
            f"| {statistics.median(r[f'{side}_raw_per_s'] for r in rounds):,.0f} "
            f"| {' / '.join(f'{x:.3f}' for x in ratios)} | {statistics.median(ratios):.3f} |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, float]:
    default_ports = (args.kafka_port, args.postgres_port) == (19292, 54359)
    root = (
        BENCH_ROOT if default_ports else BENCH_ROOT.with_name(f".devstack-bench-{args.kafka_port}")
    )
    infra = LocalInfrastructure.from_environment(
        root, kafka_port=args.kafka_port, postgres_port=args.postgres_port, cache_dir=DEFAULT_CACHE
    )
    tag = uuid4().hex[:10]
    namespace, database = f"bench{tag}.", f"bench_gateway_{tag}"
    keys = PlatformSecrets.generate()
    figures: dict[str, float] = {}
    async with infra:
        if args.paired:
            rounds = await paired(infra, args)
            print(paired_table(rounds, args))
            return {}
        await infra.create_database(database)
        url = infra.postgres_url(database)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        options = service_options(GATEWAY, url, infra.kafka_bootstrap, keys, namespace)
        app = build_app("agency_gateway", options | {"placement_batch_size": 1000})
        try:
            async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
                await register(url)
                figures["placements_per_s"], figures["raw_per_s"] = await placement(
                    infra, namespace, args.loans, keys, dsn
                )
                cursors = await fill(dsn, args.assignments)
                topic = credentials_topic(namespace)
                await ensure_credentials_topic(infra.kafka_bootstrap, topic)
                issued = await CredentialIssuer(infra.kafka_bootstrap, topic).issue(
                    Role.AGENCY, AGENCIES[0], "bench"
                )
                transport = httpx.ASGITransport(app=app)
                print("load generator: httpx via ASGI in this process, one request at a time")
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

                    async def known() -> bool:
                        answer = await client.get(
                            "/v1/assignments",
                            params={"limit": 1},
                            headers={"Authorization": f"Bearer {issued.api_key}"},
                        )
                        return answer.status_code == 200

                    await until(known, within=60)
                    figures["api_p99_ms"], figures["bare_p99_ms"] = (
                        1000 * v for v in await listing(client, issued.api_key, dsn, cursors)
                    )
        finally:
            if not args.keep:
                await _drop(infra, database, namespace)
    return figures


def table(figures: dict[str, float], args: argparse.Namespace) -> str:
    placement_ratio = figures["placements_per_s"] / figures["raw_per_s"]
    list_ratio = figures["api_p99_ms"] / figures["bare_p99_ms"]
    return "\n".join(
        [
            "| figure | gateway | raw | ratio | aim |",
            "|---|---|---|---|---|",
            f"| placement decisions/s ({args.loans:,} loans) | {figures['placements_per_s']:,.0f} "
            f"| {figures['raw_per_s']:,.0f} (consume + COPY) | {placement_ratio:.2f} "
            f"| ≥ 0.5 {'OK' if placement_ratio >= 0.5 else 'MISS'} |",
            f"| `GET /v1/assignments` p99 ({args.assignments:,} assignments) "
            f"| {figures['api_p99_ms']:.1f} ms | {figures['bare_p99_ms']:.1f} ms (keyset query) "
            f"| {list_ratio:.2f} | ≤ 3 {'OK' if list_ratio <= 3 else 'MISS'} |",
        ]
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m benchmarks.agency_gateway", description=__doc__)
    root.add_argument("--loans", type=int, default=20_000)
    root.add_argument("--assignments", type=int, default=100_000)
    root.add_argument("--keep", action="store_true", help="keep the database and topics")
    root.add_argument(
        "--paired",
        type=int,
        default=0,
        help="instead: this many rounds of placement decided in the worker and in the "
        "consumer, alternating, each beside its own raw limit (no list figure)",
    )
    root.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="with --paired: assignments already held before the reports come",
    )
    root.add_argument("--kafka-port", type=int, default=19292, help="of the local stack")
    root.add_argument("--postgres-port", type=int, default=54359, help="of the local stack")
    return root


if __name__ == "__main__":
    arguments = parser().parse_args()
    measured = asyncio.run(main(arguments))
    if not measured:
        raise SystemExit(0)
    for name, value in measured.items():
        print(f"{name}: {value:,.2f}")
    print(table(measured, arguments))
