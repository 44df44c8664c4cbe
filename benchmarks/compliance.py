"""Compliance's audit log: ``python -m benchmarks.compliance [--entries 1000000]``.

Figures, each with its ratio to a baseline measured in the same run:

- append: entries per second appended with the Merkle tree maintained and a checkpoint signed
  per batch (``SqlAuditLog.append`` + a ``signed_checkpoint`` saved, the consumer's own code,
  batches of ``--batch``), against COPYing the same entry rows into a table with no tree (aim:
  ratio >= 0.5);
- inclusion proof: p99 of ``GET /v1/audit/proofs/inclusion`` over HTTP in the log of
  ``--entries`` entries, against a trivial authenticated GET (``/v1/audit/public-key``) on the
  same server (aim: ratio < 2);
- timeline: p99 of ``GET /v1/loans/{id}/timeline`` (a loan of ~20 entries), same baseline;
- consumption to signed checkpoint: ``--events`` events published to Kafka at ``--rate`` a
  second (1,000/s), consumed by the service; for each, the time from its consumption (its
  transaction's start, ``recorded_at``) to the signing of the first checkpoint that includes
  it (p50, p95, p99; the raw limit: p99 of a bare one-row INSERT + COMMIT on the same
  database, since the way to a signed checkpoint is at least one transaction), and from its
  publication to that signing; and how
  long after the last event was published every entry was judged (the judging rounds follow
  the appends' commits: ``judged_lag``).

The appends of the first figure stand for history judged long ago: the judged-up-to watermark
is moved past them before they are timed (as this benchmark's appends were never judged before
judging left the append's transaction, and as a log migrated to revision 0011 starts), so the
service's judging rounds judge the load of the last figure only.

The service runs in this process under uvicorn on a free port (real HTTP, one event loop shared
with the load generator, which weighs on both sides of each ratio alike). Kafka and PostgreSQL
come from ``COLLECTIONS_KAFKA_BOOTSTRAP`` and ``COLLECTIONS_POSTGRES_URL`` when set, else from a
local stack in ``.devstack-bench/``. Figures are printed with a Markdown table; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import httpx
import orjson
import uvicorn
from sqlalchemy import text

from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE, REPO_ROOT
from deploy.devstack.platform import DemoCredentials, issue_demo_keys
from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.adapters.checkpoints import SqlCheckpoints
from services.compliance.application.log_writer import signed_checkpoint
from services.compliance.domain.entries import NewEntry, new_entry
from services.compliance.settings import ComplianceSettings
from services.compliance.wiring import create_app
from shared.db.engine import create_engine, create_session_factory
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
)
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED
from shared.events.topics import Topic
from shared.runtime import ServiceRuntime
from shared.tlog.note import Signer

BENCH_ROOT = REPO_ROOT / ".devstack-bench-compliance"  # its own ports: runs beside intake's
LENDER = "lender-demo"
START = datetime(2026, 11, 2, 3, tzinfo=UTC)


def entries(count: int, loans: int) -> list[NewEntry]:
    """Agency activities on ``loans`` loans, round robin, as the consumer would log them.

    The first is made by the event's model and ``new_entry``; the others copy its canonical
    JSON with their own id, loan, agency and times (the same keys and formats, a valid
    envelope each), 50 times faster than a model each: a million took minutes."""
    if count == 0:
        return []
    model = _entry(0, loans)
    template = orjson.loads(model.canonical)
    made = [model]
    for n in range(1, count):
        loan = n % loans
        loan_id = f"L-{loan:07d}"
        event_time = START + timedelta(seconds=n)
        event_id = uuid4()
        data = {
            **template["data"],
            "activity_id": f"ACT-{n}",
            "assignment_id": f"A-{loan_id}",
            "loan_id": loan_id,
            "borrower_ref": f"bref_{loan}",
            "agency_id": f"agency-{n % 7}",
            "at": (START + timedelta(minutes=n)).isoformat().replace("+00:00", "Z"),
        }
        envelope = {
            **template,
            "data": data,
            "id": str(event_id),
            "subject": loan_id,
            "time": event_time.isoformat().replace("+00:00", "Z"),
        }
        made.append(
            replace(
                model,
                event_id=event_id,
                subject=loan_id,
                event_time=event_time,
                loan_id=loan_id,
                agency_id=data["agency_id"],
                borrower_ref=data["borrower_ref"],
                canonical=orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS),
            )
        )
    return made


def _entry(n: int, loans: int) -> NewEntry:
    loan_id = f"L-{n % loans:07d}"
    activity = AgencyActivityRecorded(
        activity_id=f"ACT-{n}",
        assignment_id=f"A-{loan_id}",
        loan_id=loan_id,
        borrower_ref=f"bref_{n % loans}",
        agency_id=f"agency-{n % 7}",
        type=ActivityType.CALL,
        direction=ActivityDirection.OUTBOUND,
        outcome=ActivityOutcome.NO_ANSWER,
        at=START + timedelta(minutes=n),
    )
    envelope = AGENCY_ACTIVITY_RECORDED.envelope(
        source="/bench", subject=loan_id, tenant=LENDER, data=activity
    )
    return new_entry(envelope)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def timed_appends(url: str, rows: list[NewEntry], batch: int, signer: Signer) -> float:
    """Entries per second through the consumer's append (tree and a signed checkpoint); the
    entries counted judged beforehand (the watermark set to the size they make, once, out of
    the timing: a judging round finds nothing pending meanwhile)."""
    engine = create_engine(url, 2)
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE judging SET judged_size = judged_size + :n"), {"n": len(rows)}
        )
    started = time.perf_counter()
    for offset in range(0, len(rows), batch):
        async with sessions() as session, session.begin():
            appended = await SqlAuditLog(session).append(rows[offset : offset + batch])
            signed = signed_checkpoint(signer, appended.size, appended.root, datetime.now(UTC))
            await SqlCheckpoints(session).save(signed)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(rows) / elapsed


async def timed_copy(url: str, rows: list[NewEntry], batch: int) -> float:
    """Entries per second COPYing the same rows into a table like ``audit_entries`` (its
    indexes too), with no tree."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("CREATE TABLE copy_baseline (LIKE audit_entries INCLUDING ALL)")
        columns = ["leaf_index", *rows[0].row()]
        records = [(i, *row.row().values()) for i, row in enumerate(rows)]
        started = time.perf_counter()
        for offset in range(0, len(records), batch):
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "copy_baseline", records=records[offset : offset + batch], columns=columns
                )
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE copy_baseline")
    finally:
        await connection.close()
    return len(rows) / elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(settings: ComplianceSettings) -> AsyncIterator[tuple[str, ServiceRuntime]]:
    app = create_app(settings)
    config = uvicorn.Config(app, port=settings.http_port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to await)
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.http_port}", app.state.runtime
    finally:
        server.should_exit = True
        await task


async def latencies(call: Callable[[], Awaitable[httpx.Response]], requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await call()
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return samples


async def signing_delays(
    url: str, runtime: ServiceRuntime, events: int, rate: float = 1000.0, loans: int = 1000
) -> dict[str, list[float]]:
    """Publish ``events`` at ``rate`` a second (paced every 5 ms, the 1,000/s load the aim is
    set at) on ``loans`` loans; per entry, the seconds from its consumption (its transaction's
    start, ``recorded_at``) to the signing of the first checkpoint that includes it
    (``consumed``), and from its publication to that signing (``published``)."""
    topic = runtime.topic(Topic.AGENCY_ACTIVITIES)
    load = entries(events, loans)
    sent_at: dict[str, float] = {}  # event id -> wall clock of its send
    pending = []
    started = time.perf_counter()
    sent = 0
    while sent < len(load):
        due = min(len(load), int((time.perf_counter() - started) * rate) + 1)
        for entry in load[sent:due]:
            sent_at[str(entry.event_id)] = time.time()
            key = f"{LENDER}/{entry.loan_id}".encode()
            # the event's canonical JSON is a valid envelope too
            pending.append(await runtime.producer.send(topic, entry.canonical, key=key))
        sent = due
        await asyncio.sleep(0.005)
    await asyncio.gather(*pending)
    engine = create_engine(url, 1)
    query = text(
        "SELECT e.event_id, extract(epoch FROM e.recorded_at), extract(epoch FROM "
        "(SELECT min(c.signed_at) FROM checkpoints c WHERE c.tree_size > e.leaf_index)) "
        "FROM audit_entries e WHERE e.event_id = ANY(:ids)"
    )
    ids = [entry.event_id for entry in load]
    last_sent = max(sent_at.values())
    deadline = time.monotonic() + 120
    while True:
        async with engine.connect() as connection:
            rows = (await connection.execute(query, {"ids": ids})).all()
        if len(rows) == events or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    unjudged = text("SELECT (SELECT size FROM log_state) - (SELECT judged_size FROM judging)")
    while True:
        async with engine.connect() as connection:
            left = (await connection.execute(unjudged)).scalar_one()
        if left == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    judged_lag = time.time() - last_sent
    await engine.dispose()
    return {
        "consumed": [float(signed) - float(recorded) for _, recorded, signed in rows],
        "published": [float(signed) - sent_at[str(event)] for event, _, signed in rows],
        "judged_lag": [judged_lag],
    }


async def run(args: argparse.Namespace) -> dict[str, float]:
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT.with_name(f"{BENCH_ROOT.name}-{args.kafka_port}"),
        kafka_port=args.kafka_port,
        postgres_port=args.postgres_port,
        cache_dir=DEFAULT_CACHE,
    )
    tag = uuid4().hex[:10]
    figures: dict[str, float] = {}
    async with infra:
        database = f"bench_compliance_{tag}"
        await infra.create_database(database)
        url = infra.postgres_url(database)
        namespace = f"bench{tag}."
        credentials = DemoCredentials.generate()
        await issue_demo_keys(infra.kafka_bootstrap, credentials, namespace)
        signer = Signer.generate("collections.bench/audit")
        settings = ComplianceSettings(
            database_url=url,
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            topic_namespace=namespace,
            http_port=free_port(),
            log_signing_key=str(signer),
            log_json=False,
        )
        rows = entries(args.entries, args.entries // 20 or 1)
        async with serving(settings) as (base, runtime):  # migrates the database
            sample = rows[: min(len(rows), args.copy_sample)]
            figures["copy_per_s"] = await timed_copy(url, sample, args.batch)
            figures["append_per_s"] = await timed_appends(url, rows, args.batch, signer)
            headers = {"Authorization": f"Bearer {credentials.auditor['api_key']}"}
            print("load generator: httpx over HTTP, in this process (latency, one at a time)")
            async with httpx.AsyncClient(base_url=base, headers=headers) as client:
                trivial = await latencies(lambda: client.get("/v1/audit/public-key"), args.requests)
                size = len(rows)

                def proof() -> Awaitable[httpx.Response]:
                    params = {"leaf_index": secrets.randbelow(size), "tree_size": size}
                    return client.get("/v1/audit/proofs/inclusion", params=params)

                def timeline() -> Awaitable[httpx.Response]:
                    loan = f"L-{secrets.randbelow(args.entries // 20 or 1):07d}"
                    params = {"lender_id": LENDER}
                    return client.get(f"/v1/loans/{loan}/timeline", params=params)

                proofs = await latencies(proof, args.requests)
                timelines = await latencies(timeline, args.requests)
            figures["trivial_p99_ms"] = p99(trivial) * 1000
            figures["proof_p99_ms"] = p99(proofs) * 1000
            figures["timeline_p99_ms"] = p99(timelines) * 1000
            delays = await signing_delays(url, runtime, args.events, args.rate)
            figures["bare_commit_p99_ms"] = p99(await bare_commits(url, args.requests)) * 1000
            figures["judged_lag_s"] = delays.pop("judged_lag")[0]
            for name, samples in delays.items():
                figures[f"{name}_signed_p99_ms"] = (
                    p99(samples) * 1000 if len(samples) > 1 else float("nan")
                )
            consumed = sorted(delays["consumed"])
            if consumed:
                figures["consumed_signed_p50_ms"] = statistics.median(consumed) * 1000
                figures["consumed_signed_p95_ms"] = consumed[int(len(consumed) * 0.95)] * 1000
    return figures


async def bare_commits(url: str, count: int) -> list[float]:
    """Seconds of ``count`` bare transactions on the service's database (one row inserted and
    committed, asyncpg): the raw limit of a consumed event's way to a signed checkpoint, which
    is at least one such transaction."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("CREATE TABLE bare_commit (n bigint, at timestamptz)")
        samples = []
        for n in range(count):
            started = time.perf_counter()
            async with connection.transaction():
                await connection.execute("INSERT INTO bare_commit VALUES ($1, now())", n)
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        await connection.execute("DROP TABLE IF EXISTS bare_commit")
        await connection.close()


def table(figures: dict[str, float], args: argparse.Namespace) -> str:
    f = figures
    return "\n".join(
        [
            f"{args.entries:,} entries, batches of {args.batch}, {args.requests} requests per "
            f"figure, {datetime.now(UTC):%Y-%m-%d}",
            "",
            "| figure | value | baseline | ratio | aim |",
            "|---|---|---|---|---|",
            f"| append with tree (entries/s) | {f['append_per_s']:,.0f} | COPY "
            f"{f['copy_per_s']:,.0f} | {f['append_per_s'] / f['copy_per_s']:.2f} | >= 0.5 |",
            f"| inclusion proof p99 (ms) | {f['proof_p99_ms']:.1f} | GET "
            f"{f['trivial_p99_ms']:.1f} | {f['proof_p99_ms'] / f['trivial_p99_ms']:.2f} | < 2 |",
            f"| timeline p99 (ms) | {f['timeline_p99_ms']:.1f} | GET "
            f"{f['trivial_p99_ms']:.1f} | {f['timeline_p99_ms'] / f['trivial_p99_ms']:.2f} | < 2 |",
            f"| consumed to signed p99 at {args.rate:,.0f}/s (ms) | "
            f"{f['consumed_signed_p99_ms']:.1f} | INSERT + COMMIT {f['bare_commit_p99_ms']:.1f} | "
            f"{f['consumed_signed_p99_ms'] / f['bare_commit_p99_ms']:.1f} | |",
            f"| consumed to signed p50 / p95 (ms) | {f.get('consumed_signed_p50_ms', 0):.1f} / "
            f"{f.get('consumed_signed_p95_ms', 0):.1f} | | | |",
            f"| published to signed p99 at {args.rate:,.0f}/s (ms) | "
            f"{f['published_signed_p99_ms']:.1f} | | | |",
            f"| every entry judged, after the last published (s) | {f['judged_lag_s']:.2f} | | | |",
        ]
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compliance", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--copy-sample", type=int, default=200_000, help="rows COPYed")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=10_000, help="for the signing delay")
    parser.add_argument("--rate", type=float, default=1000.0, help="of those events, per s")
    parser.add_argument("--kafka-port", type=int, default=19492, help="of the local stack")
    parser.add_argument("--postgres-port", type=int, default=54559, help="of the local stack")
    return parser


def main() -> None:
    args = parser().parse_args()
    figures = asyncio.run(run(args))
    for name, value in figures.items():
        print(f"{name}: {value:,.2f}")
    print()
    print(table(figures, args))


if __name__ == "__main__":
    main()
