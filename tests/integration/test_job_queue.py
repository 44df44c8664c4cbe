"""The kit's leased job queue against real PostgreSQL: claims never overlap, a lease keeps a job
from a second worker until it ends, and a worker whose claim was taken over writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, Uuid, select, update

from shared.db.engine import SessionFactory, create_engine, create_session_factory, transaction
from shared.db.jobs import JobQueue
from tests.infrastructure import TestInfrastructure

metadata = MetaData()
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Integer, primary_key=True),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("lease_until", DateTime(timezone=True)),
    Column("claim_token", Uuid),
    Column("done_by", Uuid),
)
QUEUE = JobQueue(jobs)
keyed = Table(  # a queue keyed by two columns, as cases are by lender and loan
    "keyed_jobs",
    metadata,
    Column("tenant", Text, primary_key=True),
    Column("job_id", Integer, primary_key=True),
    Column("lease_until", DateTime(timezone=True)),
    Column("claim_token", Uuid),
)
KEYED = JobQueue(keyed)
PENDING = jobs.c.status == "pending"
LONG = timedelta(minutes=5)


@pytest.fixture
async def sessions(infrastructure: TestInfrastructure) -> AsyncIterator[SessionFactory]:
    database = f"jobs_{uuid.uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    engine = create_engine(infrastructure.postgres_url(database), pool_size=4)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(jobs.insert(), [{"job_id": n} for n in range(1, 41)])
        await connection.execute(
            keyed.insert(), [{"tenant": t, "job_id": n} for t in "ab" for n in range(1, 11)]
        )
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def claim(
    sessions: SessionFactory, token: uuid.UUID, limit: int, lease: timedelta = LONG
) -> list[int]:
    async with transaction(sessions) as session:
        rows = await QUEUE.claim_rows(
            session, PENDING, order_by=[jobs.c.job_id], limit=limit, lease=lease, token=token
        )
    return sorted(row["job_id"] for row in rows)  # RETURNING keeps no order


async def finish(sessions: SessionFactory, token: uuid.UUID, ids: list[int]) -> list[int]:
    async with transaction(sessions) as session:
        done = await session.execute(
            update(jobs)
            .where(jobs.c.job_id.in_(ids), QUEUE.held_by(token))
            .values(status="done", done_by=token)
            .returning(jobs.c.job_id)
        )
        return sorted(done.scalars())


async def test_concurrent_claims_take_disjoint_jobs(sessions: SessionFactory) -> None:
    tokens = [uuid.uuid4() for _ in range(4)]
    claimed = await asyncio.gather(*(claim(sessions, token, 10) for token in tokens))

    taken = [job for batch in claimed for job in batch]
    assert sorted(taken) == list(range(1, 41))


async def test_a_leased_job_is_not_claimed_again_until_its_lease_ends(
    sessions: SessionFactory,
) -> None:
    first = await claim(sessions, uuid.uuid4(), 5, lease=timedelta(seconds=1))
    assert first == [1, 2, 3, 4, 5]
    assert await claim(sessions, uuid.uuid4(), 5) == [6, 7, 8, 9, 10]

    await asyncio.sleep(1.2)
    assert await claim(sessions, uuid.uuid4(), 5) == [1, 2, 3, 4, 5]


async def test_a_worker_whose_claim_was_taken_over_writes_nothing(
    sessions: SessionFactory,
) -> None:
    slow, fast = uuid.uuid4(), uuid.uuid4()
    await claim(sessions, slow, 3, lease=timedelta(seconds=1))
    await asyncio.sleep(1.2)
    assert await claim(sessions, fast, 3) == [1, 2, 3]

    assert await finish(sessions, slow, [1, 2, 3]) == []
    assert await finish(sessions, fast, [1, 2, 3]) == [1, 2, 3]
    async with transaction(sessions) as session:
        done_by = set((await session.execute(select(jobs.c.done_by).where(~PENDING))).scalars())
    assert done_by == {fast}


async def test_a_lapsed_lease_fences_its_own_worker_even_before_a_new_claim(
    sessions: SessionFactory,
) -> None:
    token = uuid.uuid4()
    await claim(sessions, token, 2, lease=timedelta(seconds=1))
    await asyncio.sleep(1.2)
    assert await finish(sessions, token, [1, 2]) == []


async def test_a_finished_job_is_never_claimed_again(sessions: SessionFactory) -> None:
    token = uuid.uuid4()
    ids = await claim(sessions, token, 40, lease=timedelta(seconds=1))
    assert await finish(sessions, token, ids[:30]) == list(range(1, 31))
    await asyncio.sleep(1.2)
    assert await claim(sessions, uuid.uuid4(), 40) == list(range(31, 41))


async def test_a_queue_keyed_by_several_columns_claims_disjoint_jobs(
    sessions: SessionFactory,
) -> None:
    async def claim_keyed(token: uuid.UUID) -> list[tuple[str, int]]:
        async with transaction(sessions) as session:
            rows = await KEYED.claim_rows(
                session, order_by=[keyed.c.job_id], limit=7, lease=LONG, token=token
            )
        return [(row["tenant"], row["job_id"]) for row in rows]

    claimed = await asyncio.gather(*(claim_keyed(uuid.uuid4()) for _ in range(3)))

    taken = [job for batch in claimed for job in batch]
    assert sorted(taken) == [(t, n) for t in "ab" for n in range(1, 11)]
