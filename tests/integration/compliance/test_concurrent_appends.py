"""Writers appending to the audit log at once (replicas, the consumer beside a judging round),
on PostgreSQL: each waits for the head's lock, then extends the tree the other committed;
no append fails and the tree is the one of every entry in leaf order."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.compliance import entries
from services.compliance.adapters.audit_log import SqlAuditLog
from services.compliance.wiring import MIGRATIONS
from shared.db.engine import create_engine, create_session_factory
from shared.db.migrations import upgrade_to_head
from shared.tlog.merkle import root_of
from tests.infrastructure import TestInfrastructure

WRITERS, ROUNDS, BATCH = 4, 12, 5


@pytest.fixture
async def engine(infrastructure: TestInfrastructure) -> AsyncIterator[AsyncEngine]:
    database = f"compliance_appends_{uuid4().hex[:8]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    engine = create_engine(url, WRITERS + 1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_writers_appending_at_once_each_extend_the_tree_the_other_committed(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    made = entries(WRITERS * ROUNDS * BATCH, 10)

    async def writer(first: int) -> None:
        for round_ in range(ROUNDS):
            start = (round_ * WRITERS + first) * BATCH
            async with sessions() as session, session.begin():
                await SqlAuditLog(session).append(made[start : start + BATCH])
                await asyncio.sleep(0.01)  # hold the head while the others queue for it

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))

    async with engine.connect() as connection:
        size, root = (await connection.execute(text("SELECT size, root_hash FROM log_state"))).one()
        hashes = (
            (
                await connection.execute(
                    text("SELECT leaf_hash FROM audit_entries ORDER BY leaf_index")
                )
            )
            .scalars()
            .all()
        )
    assert size == len(made) == len(hashes)
    assert bytes(root) == root_of([bytes(h) for h in hashes])
