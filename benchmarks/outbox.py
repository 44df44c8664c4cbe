"""The outbox relay deleting the rows it published vs marking them: ``make bench-outbox``.

The paths in one run, each on a table of its own shape in a database of its own, measured batch
by batch in turns (the path going first rotates), so that a slow moment of a shared machine
falls on each alike, and each beside its raw limit, in the same turns:

- **old**: the relay as it was (:class:`MarkingRelay`): sets ``published_at`` on the rows Kafka
  has; its table has the indexes of kit migration v6 (``ix_outbox_unpublished``,
  ``ix_outbox_parked``, ``ix_outbox_published_at``); the retention job deletes the marked rows
  later (measured too: the old rule, over ``ix_outbox_published_at``).
- **new**: :class:`shared.kafka.outbox.OutboxRelay`: deletes the rows Kafka has; its table has
  the indexes of kit migration v7 (``ix_outbox_parked``, ``ix_outbox_given_up``).
- **indexed** (the alternative not taken): the new relay on the new table plus a partial index
  of the rows to publish (``ix_outbox_pending``), instead of walking the primary key.

Figures, rows per second, medians of ``--runs``; ratios, medians of each run's own ratio:

- ``write``: COPY of ``--rows`` outbox rows (what a service's transactions add) into each shape.
  Raw limit: COPY of the same rows into a table of the same columns with no index (in turns).
- ``database``: the relay's database work alone (Kafka's part a no-op), ``--batch`` rows a
  transaction: select the pending batch, then mark or delete it. Raw limit: a bare keyset walk
  reading the same rows (the select without the relay's conditions, and no write); and the old
  path plus its retention DELETE of what it marked.
- ``relay``: the whole relay onto a fresh topic of ``--partitions`` partitions. Raw limit: the
  relay's own ``publish`` of the same messages in the same batches, with no database.

Kafka and PostgreSQL come from ``COLLECTIONS_KAFKA_BOOTSTRAP`` and ``COLLECTIONS_POSTGRES_URL``
when both are set, else from a local stack started in ``.devstack-bench-outbox/``. Prints the
figures and their ratios (no absolute target), then a Markdown table; ``--json PATH`` writes
them. ``--profile``: cProfile's top entries of the first run's relays (every path and the raw
publish, in turns); ``--explain``: the plans of the relay's select on each shape, full and after
half its rows were relayed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
from sqlalchemy import BigInteger, any_, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.intake import _drop, _messages_on
from deploy.devstack import LocalInfrastructure
from deploy.devstack.paths import DEFAULT_CACHE, REPO_ROOT
from shared.db.engine import create_engine, create_session_factory
from shared.db.kit_tables import KIT_METADATA, outbox
from shared.db.retention import RetentionJob, RetentionRule
from shared.kafka.admin import ensure_topics
from shared.kafka.outbox import Message, OutboxRelay
from shared.kafka.producer import create_producer

BENCH_ROOT = REPO_ROOT / ".devstack-bench-outbox"
PATHS = ("old", "new", "indexed")
COLUMNS = ["event_id", "topic", "message_key", "payload", "traceparent"]
# The kit's indexes before migration v7, on the table ``create_all`` makes of today's kit.
OLD_SHAPE = [
    "DROP INDEX ix_outbox_given_up",
    "CREATE INDEX ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
    "CREATE INDEX ix_outbox_published_at ON outbox (published_at)"
    " WHERE published_at IS NOT NULL AND parked_at IS NULL",
]
# The alternative not taken: the new relay with a partial index of the rows to publish.
PENDING_INDEX = (
    "CREATE INDEX ix_outbox_pending ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL"
)
OLD_RETENTION = RetentionRule(
    "outbox",
    "outbox",
    "published_at IS NOT NULL AND parked_at IS NULL AND published_at < :cutoff",
    timedelta(0),
)


class MarkingRelay(OutboxRelay):
    """The relay before kit migration v7: it marks the rows Kafka has instead of deleting them."""

    async def _published(self, session: AsyncSession, ids: list[int]) -> None:
        await session.execute(
            update(outbox)
            .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
            .values(published_at=datetime.now(UTC)),
            {"ids": ids},
        )


class Offline:
    """A relay whose Kafka part does nothing: what is left is its database work."""

    async def publish(self, messages: Sequence[Message]) -> None:
        return None


class OfflineMarkingRelay(Offline, MarkingRelay):
    pass


class OfflineRelay(Offline, OutboxRelay):
    pass


@dataclass
class Figures:
    """Rows/s of each figure and path (and its raw limit), one value per run."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.runs.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return statistics.median(self.runs[name])

    def paired(self, name: str, over: str) -> float:
        """The median of the runs' ratios ``name / over`` (each run's pair measured together)."""
        pairs = zip(self.runs[name], self.runs[over], strict=True)
        return statistics.median(a / b for a, b in pairs)


def rows(count: int, keys: int, topic: str) -> list[tuple[Any, ...]]:
    """Outbox rows shaped like intake's: ~900-byte JSON payloads, ``keys`` loans, traced."""
    made = []
    for n in range(count):
        noise = os.urandom(300).hex()
        payload = json.dumps(
            {"id": str(uuid4()), "type": "collections.loan.overdue_reported.v1", "n": n, "x": noise}
        ).encode()
        trace = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
        made.append((uuid4(), topic, f"lender-bench/L-{n % keys}", payload, trace))
    return made


async def keyset_walk(dsn: str, batch: int) -> float:
    """Seconds to read the whole outbox in id order, ``batch`` rows a query: the raw limit of
    the relay's database work."""
    connection = await asyncpg.connect(dsn)
    try:
        started, last = time.perf_counter(), 0
        while True:
            async with connection.transaction():
                found = await connection.fetch(
                    "SELECT id, topic, message_key, payload, traceparent, tracestate FROM outbox"
                    " WHERE id > $1 ORDER BY id LIMIT $2",
                    last,
                    batch,
                )
            if not found:
                return time.perf_counter() - started
            last = found[-1]["id"]
    finally:
        await connection.close()


def rotated(paths: Sequence[str], n: int) -> list[str]:
    return [*paths[n % len(paths) :], *paths[: n % len(paths)]]


class RawPublish(OutboxRelay):
    """The raw limit of the relay: its ``publish`` of the same batches, no database."""

    def __init__(self, producer: Any, batches: list[list[Message]]) -> None:
        super().__init__(None, producer)  # type: ignore[arg-type]
        self._batches = batches

    async def relay_once(self) -> int:
        if not self._batches:
            return 0
        batch = self._batches.pop(0)
        await self.publish(batch)
        return len(batch)


async def timed(step: Awaitable[Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await step
    return time.perf_counter() - started, result


async def left_pending(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
    finally:
        await connection.close()


@dataclass
class Bench:
    """The paths measured batch by batch in turns (the first of each round rotates), so a
    slow moment of the shared machine falls on every path alike."""

    args: argparse.Namespace
    infra: LocalInfrastructure
    urls: dict[str, str]  # "old", "new", "indexed", "raw" -> SQLAlchemy URL
    namespace: str
    figures: Figures = field(default_factory=Figures)

    def dsn(self, path: str) -> str:
        return self.urls[path].replace("postgresql+asyncpg://", "postgresql://")

    def batches(self, records: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
        size = self.args.batch
        return [records[start : start + size] for start in range(0, len(records), size)]

    async def fill(self, records: list[tuple[Any, ...]], paths: Sequence[str]) -> dict[str, float]:
        """Empty each path's outbox and COPY ``records`` into it, a batch a transaction, the
        paths in turns; returns each path's seconds."""
        connections = {path: await asyncpg.connect(self.dsn(path)) for path in paths}
        spent = dict.fromkeys(paths, 0.0)
        try:
            for connection in connections.values():
                await connection.execute("TRUNCATE outbox RESTART IDENTITY")
            for n, batch in enumerate(self.batches(records)):
                for path in rotated(paths, n):
                    connection = connections[path]
                    started = time.perf_counter()
                    async with connection.transaction():
                        await connection.copy_records_to_table(
                            "outbox", records=batch, columns=COLUMNS
                        )
                    spent[path] += time.perf_counter() - started
            for connection in connections.values():
                await connection.execute("ANALYZE outbox")
        finally:
            for connection in connections.values():
                await connection.close()
        return spent

    async def drain(self, relays: dict[str, OutboxRelay]) -> dict[str, float]:
        """``relay_once`` of each path in turns until none has rows left; each path's seconds."""
        spent = dict.fromkeys(relays, 0.0)
        busy = set(relays)
        n = 0
        while busy:
            for path in rotated([p for p in relays if p in busy], n):
                seconds, done = await timed(relays[path].relay_once())
                spent[path] += seconds
                if not done:
                    busy.discard(path)
            n += 1
        return spent

    async def database(self, records: list[tuple[Any, ...]]) -> None:
        """Writes (COPY into each shape), then the relays' database work alone (Kafka's part a
        no-op), then the old path's retention delete of what it marked."""
        spent = await self.fill(records, [*PATHS, "raw"])
        for path, seconds in spent.items():
            self.figures.add(f"write {path}", len(records) / seconds)
        walk = await keyset_walk(self.dsn("new"), self.args.batch)  # before the relays' turn
        self.figures.add("database raw", len(records) / walk)
        engines = {path: create_engine(self.urls[path], pool_size=2) for path in PATHS}
        try:
            relays: dict[str, OutboxRelay] = {
                path: (OfflineMarkingRelay if path == "old" else OfflineRelay)(
                    create_session_factory(engine),
                    None,
                    batch_size=self.args.batch,
                )
                for path, engine in engines.items()
            }
            spent = await self.drain(relays)
            for path, seconds in spent.items():
                self.figures.add(f"database {path}", len(records) / seconds)
            job = RetentionJob(engines["old"], [OLD_RETENTION], batch_size=self.args.batch)
            purge, deleted = await timed(job.run_once())
            if deleted["outbox"] != len(records):
                raise RuntimeError(f"retention deleted {deleted} of {len(records)} rows")
            self.figures.add("database old + retention", len(records) / (spent["old"] + purge))
        finally:
            for engine in engines.values():
                await engine.dispose()
        for path in PATHS:
            if await left_pending(self.dsn(path)):
                raise RuntimeError(f"{path}: rows left unpublished")

    async def relay(self, records: list[tuple[Any, ...]], run: int) -> None:
        """The whole relays, each onto a topic of its own, in turns with the raw limit: the
        relay's ``publish`` of the same batches with no database."""
        topics = {path: f"{self.namespace}{path}{run}" for path in (*PATHS, "raw")}
        await ensure_topics(self.infra.kafka_bootstrap, list(topics.values()), self.args.partitions)
        await self.fill([(r[0], topics["old"], *r[2:]) for r in records], ["old"])
        await self.fill([(r[0], topics["new"], *r[2:]) for r in records], ["new"])
        await self.fill([(r[0], topics["indexed"], *r[2:]) for r in records], ["indexed"])
        engines = {path: create_engine(self.urls[path], pool_size=2) for path in PATHS}
        producers = {
            path: create_producer(self.infra.kafka_bootstrap, client_id=f"bench-{path}")
            for path in topics
        }
        try:
            for path, producer in producers.items():
                await producer.start()
                await producer.partitions_for(topics[path])
            relays: dict[str, OutboxRelay] = {
                path: (MarkingRelay if path == "old" else OutboxRelay)(
                    create_session_factory(engine), producers[path], batch_size=self.args.batch
                )
                for path, engine in engines.items()
            }
            relays["raw"] = RawPublish(
                producers["raw"],
                self.batches(
                    [
                        (topics["raw"], key.encode(), payload, [("content-type", b"x")])
                        for _, _, key, payload, _ in records
                    ]
                ),
            )
            profile = cProfile.Profile() if self.args.profile and run == 0 else None
            if profile:
                profile.enable()
            spent = await self.drain(relays)
            if profile:
                profile.disable()
                print_profile("the relays of every path and the raw publish, in turns", profile)
            for path, seconds in spent.items():
                self.figures.add(f"relay {path}", len(records) / seconds)
        finally:
            for producer in producers.values():
                await producer.stop()
            for engine in engines.values():
                await engine.dispose()
        for path, topic in topics.items():
            if (found := await _messages_on(self.infra.kafka_bootstrap, topic)) != len(records):
                raise RuntimeError(f"{path}: {found} of {len(records)} messages on {topic}")
        for path in PATHS:
            if await left_pending(self.dsn(path)):
                raise RuntimeError(f"{path}: rows left unpublished")


def print_profile(title: str, profile: cProfile.Profile) -> None:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    print(f"--- cProfile, {title} (top 12 by internal time)")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


async def shapes(bench: Bench) -> None:
    """Each database's ``outbox`` with its path's indexes (raw: the columns, no index)."""
    for path, url in bench.urls.items():
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as setup:
                await setup.run_sync(KIT_METADATA.create_all)
        finally:
            await engine.dispose()
        connection = await asyncpg.connect(bench.dsn(path))
        try:
            if path == "old":
                for statement in OLD_SHAPE:
                    await connection.execute(statement)
            if path == "indexed":
                await connection.execute(PENDING_INDEX)
            if path == "raw":
                await connection.execute("DROP TABLE outbox")
                await connection.execute(
                    "CREATE TABLE outbox (id bigint GENERATED BY DEFAULT AS IDENTITY,"
                    " event_id uuid, topic text, message_key text, payload bytea,"
                    " created_at timestamptz DEFAULT now(), published_at timestamptz,"
                    " parked_at timestamptz, park_reason text, traceparent text, tracestate text)"
                )
            indexes = await connection.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'outbox' ORDER BY 1"
            )
            print(f"  {path}: outbox indexes {[r['indexname'] for r in indexes]}")
        finally:
            await connection.close()


async def explain(bench: Bench, path: str, records: list[tuple[Any, ...]]) -> None:
    """The plan of the relay's select on a full outbox, then after half its rows went (marked
    or deleted, committed, not vacuumed yet), as the relay's next select sees it."""
    await bench.fill(records, [path])
    engine = create_engine(bench.urls[path], pool_size=1)
    relay = OutboxRelay(create_session_factory(engine), None, batch_size=bench.args.batch)
    compiled = relay._pending().compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    query = text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")
    gone = (
        "UPDATE outbox SET published_at = now() WHERE id <= :half"
        if path == "old"
        else "DELETE FROM outbox WHERE id <= :half"
    )
    try:
        for moment in ("full", "after half was relayed"):
            async with engine.begin() as connection:
                plan = await connection.execute(query)
                print(f"--- plan, {path} path, {moment}:")
                print("\n".join(f"    {line}" for (line,) in plan))
                await connection.execute(text(gone), {"half": len(records) // 2})
    finally:
        await engine.dispose()


async def measure(bench: Bench) -> None:
    args = bench.args
    records = rows(args.rows, args.keys, "bench")
    await shapes(bench)
    if args.explain:
        for path in PATHS:
            await explain(bench, path, records)
    for run in range(args.runs):
        await bench.database(records)
        await bench.relay(records, run)
        f = bench.figures
        print(
            f"run {run + 1}: relay old {f.runs['relay old'][-1]:,.0f}/s,"
            f" new {f.runs['relay new'][-1]:,.0f}/s, publish alone"
            f" {f.runs['relay raw'][-1]:,.0f}/s; database old {f.runs['database old'][-1]:,.0f}/s,"
            f" new {f.runs['database new'][-1]:,.0f}/s",
            flush=True,
        )


def table(bench: Bench) -> str:
    f, args = bench.figures, bench.args
    lines = [
        f"{args.rows:,} rows, batches of {args.batch:,}, {args.partitions} partitions,"
        f" median of {args.runs} runs (rows/s; ratios in the same run)",
        "",
        "| figure | old: mark | new: delete | raw limit | old / raw | new / raw | new / old"
        " | new + pending index / old |",
        "|---|---|---|---|---|---|---|---|",
        # ratios: medians of each run's own ratio (the pair measured together), not of medians
    ]
    raw_names = {
        "write": "COPY, no index",
        "database": "bare keyset read",
        "relay": "publish alone",
    }
    for name, raw_name in raw_names.items():
        old, new, raw = (f"{name} {p}" for p in ("old", "new", "raw"))
        lines.append(
            f"| {name} | {f.median(old):,.0f} | {f.median(new):,.0f} | {f.median(raw):,.0f}"
            f" ({raw_name}) | {f.paired(old, raw):.2f} | {f.paired(new, raw):.2f}"
            f" | {f.paired(new, old):.2f} | {f.paired(f'{name} indexed', old):.2f} |"
        )
        if name == "database":
            both = "database old + retention"
            lines.append(
                f"| database, old + its retention delete | {f.median(both):,.0f}"
                f" | {f.median(new):,.0f} | {f.median(raw):,.0f} | {f.paired(both, raw):.2f}"
                f" | {f.paired(new, raw):.2f} | {f.paired(new, both):.2f}"
                f" | {f.paired('database indexed', both):.2f} |"
            )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> Bench:
    infra = LocalInfrastructure.from_environment(
        BENCH_ROOT,
        kafka_port=args.kafka_port,
        postgres_port=args.postgres_port,
        cache_dir=DEFAULT_CACHE,
    )
    tag = uuid4().hex[:10]
    namespace = f"bench{tag}.outbox."
    databases = {path: f"bench_outbox_{path}_{tag}" for path in (*PATHS, "raw")}
    async with infra:
        urls = {}
        for path, database in databases.items():
            await infra.create_database(database)
            urls[path] = infra.postgres_url(database)
        bench = Bench(args, infra, urls, namespace)
        try:
            await measure(bench)
        finally:
            for database in databases.values():
                await _drop(infra, database, namespace)
    return bench


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows a relay transaction")
    parser.add_argument("--keys", type=int, default=2_000, help="distinct message keys")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--retention-batch", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 3 runs")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--explain", action="store_true", help="plans of the relay's select")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--kafka-port", type=int, default=19392)
    parser.add_argument("--postgres-port", type=int, default=54459)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.runs = 5_000, 3
    return args


def run(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    bench = asyncio.run(main(args))
    print()
    print(table(bench))
    if args.json:
        medians = {name: bench.figures.median(name) for name in bench.figures.runs}
        args.json.write_text(
            json.dumps({"rows_per_s": medians, "runs": bench.figures.runs}, indent=2)
        )


if __name__ == "__main__":
    run()
