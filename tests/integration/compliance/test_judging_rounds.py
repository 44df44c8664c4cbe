"""Judging after the append's commit, on PostgreSQL: a batch is signed and committed unjudged;
a judging round killed before its commit leaves no violation and no entry, and the next round
judges the same entries once; a round running holds the others off (replicas); a batch judged
in its own unit of work (a data request's) waits for a round in flight, then judges what is
pending, its own entries too."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.compliance.adapters.clock import SystemClock
from services.compliance.adapters.unit_of_work import ComplianceUnitOfWork
from services.compliance.application.judge import Judge
from services.compliance.application.log_writer import LogWriter
from services.compliance.wiring import MIGRATIONS
from shared.db.engine import create_engine, create_session_factory
from shared.db.migrations import upgrade_to_head
from shared.tlog.note import Signer
from tests.infrastructure import TestInfrastructure
from tests.unit.compliance.test_judge import call, placed, report
from tests.unit.compliance.test_judgement import PACKS

FOUND = "collections.compliance.violation-found"


@pytest.fixture
async def engine(infrastructure: TestInfrastructure) -> AsyncIterator[AsyncEngine]:
    database = f"compliance_judging_{uuid4().hex[:8]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    engine = create_engine(url, 4)
    try:
        yield engine
    finally:
        await engine.dispose()


def units(engine: AsyncEngine) -> ComplianceUnitOfWork:
    return ComplianceUnitOfWork(
        create_session_factory(engine), lambda topic: topic.qualified("judging.")
    )


async def state(engine: AsyncEngine) -> tuple[int, int, int, list[str]]:
    """The log's size, the watermark, the violations stored, the outbox's event types."""
    async with engine.connect() as connection:
        size = (await connection.execute(text("SELECT size FROM log_state"))).scalar_one()
        judged = (await connection.execute(text("SELECT judged_size FROM judging"))).scalar_one()
        found = (await connection.execute(text("SELECT count(*) FROM violations"))).scalar_one()
        outbox = (await connection.execute(text("SELECT payload FROM outbox"))).scalars().all()
    return size, judged, found, [FOUND for p in outbox if FOUND.encode() in p]


async def test_a_round_killed_before_its_commit_loses_nothing_and_doubles_nothing(
    engine: AsyncEngine,
) -> None:
    writer = LogWriter(Signer.generate("collections.test/audit"), Judge(PACKS), SystemClock())
    async with units(engine) as uow:
        signed = await writer.append(uow, [report(), placed(), call(0)])
        await uow.commit()
    assert signed.tree_size == 3
    assert await state(engine) == (3, 0, 0, [])  # provable, not judged yet

    async with units(engine) as uow:  # killed: judged, never committed
        assert await writer.judge_pending(uow) == 3
    assert await state(engine) == (3, 0, 0, [])

    async with units(engine) as holder:  # a replica's round in flight holds the others off
        assert await writer.judge_pending(holder) == 3
        async with units(engine) as other:
            assert await writer.judge_pending(other) == 0
        await holder.commit()
    assert await state(engine) == (4, 3, 1, [FOUND])  # CN-09: a call with no notice

    async with units(engine) as uow:  # again: past the violation's own entry, nothing new
        assert await writer.judge_pending(uow) == 1
        assert await writer.judge_pending(uow) == 0
        await uow.commit()
    assert await state(engine) == (4, 4, 1, [FOUND])


async def test_a_batch_judged_in_its_own_unit_waits_for_the_round_in_flight(
    engine: AsyncEngine,
) -> None:
    writer = LogWriter(Signer.generate("collections.test/audit"), Judge(PACKS), SystemClock())
    async with units(engine) as uow:
        await writer.append(uow, [report(), placed()])
        await uow.commit()

    async def judged_batch() -> None:
        async with units(engine) as uow:
            await writer.append(uow, [call(0)], judged=True)
            await uow.commit()

    async with units(engine) as round_:
        assert await writer.judge_pending(round_) == 2
        batch = asyncio.create_task(judged_batch())
        await asyncio.sleep(0.3)
        assert not batch.done()  # waits for the watermark, before taking the log's head
        await round_.commit()
    await asyncio.wait_for(batch, 10)
    assert await state(engine) == (4, 4, 1, [FOUND])
