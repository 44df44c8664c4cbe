"""A consumer process for the kill test, and the ``effects`` table the consumer tests write.

Run as ``python -m tests.integration.consumer_process --bootstrap ... --database-url ...
--topic ... --group ...``: a :class:`ConsumerRunner` whose ``test.effect`` handler inserts one
``effects`` row per event, until it is killed (SIGTERM stops it cleanly).

With ``--pause-before-offset-commit S`` it prints ``db-committed <applied_total>`` after each
batch's database transaction and waits S seconds before committing the batch's offsets, so a
test can SIGKILL it in exactly the window where the effects are in the database but Kafka does
not know: the next process must get those events again and treat them as no-ops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    insert,
    text,
)

from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.catalog import EventType
from shared.events.topics import Topic
from shared.kafka.consumer import ConsumerRunner
from shared.kafka.handlers import EventHandlers, Handler, Received
from shared.kafka.producer import create_producer

TEST_METADATA = MetaData()

# Deliberately no unique constraint on event_id: an event applied twice shows up as two rows.
effects = Table(
    "effects",
    TEST_METADATA,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("consumer_group", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class Step(BaseModel):
    """The data of the test event types."""

    seq: int


EFFECT = EventType(
    name="test.effect",
    version=1,
    topic=Topic.LOANS,
    model=Step,
    summary="Makes one effects row.",
)
POISON = EventType(
    name="test.poison",
    version=1,
    topic=Topic.LOANS,
    model=Step,
    summary="Valid, but its handler can never apply it.",
)


def effects_handler(group: str, *, db_pause: float = 0.0) -> Handler[UnitOfWork, Step]:
    """One ``effects`` row per event.

    ``db_pause`` makes each call hold its transaction open that long (server-side sleep), so
    a fault injected meanwhile lands inside a transaction.
    """

    async def handle(uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
        session = uow.session
        await session.execute(
            insert(effects),
            [
                {
                    "consumer_group": group,
                    "event_id": event.envelope.id,
                    "message_key": event.envelope.subject,
                    "seq": event.data.seq,
                }
                for event in events
            ],
        )
        if db_pause:
            await session.execute(text("SELECT pg_sleep(:pause)"), {"pause": db_pause})

    return handle


async def refuse(_uow: UnitOfWork, events: Sequence[Received[Step]]) -> None:
    raise ValueError(f"cannot apply event {events[0].envelope.id}: seq is poisoned")


def effect_handlers(group: str, *, db_pause: float = 0.0) -> EventHandlers:
    """``test.effect`` makes an ``effects`` row; ``test.poison`` raises ValueError."""
    handlers = EventHandlers()
    handlers.on(EFFECT, effects_handler(group, db_pause=db_pause))
    handlers.on(POISON, refuse)
    return handlers


class _AnnouncingRunner(ConsumerRunner):
    """Says when a batch is in the database, then waits before committing its offsets."""

    def __init__(self, *, pause_before_offset_commit: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pause = pause_before_offset_commit

    async def _commit(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        print(f"db-committed {self.applied_total}", flush=True)
        await asyncio.sleep(self._pause)
        await super()._commit(batches)


async def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--max-batch", type=int, default=100)
    parser.add_argument("--pause-before-offset-commit", type=float, default=0.0)
    args = parser.parse_args(argv)

    engine = create_engine(args.database_url, pool_size=2)
    dead_letters = create_producer(args.bootstrap, client_id=f"{args.group}-dlq")
    await dead_letters.start()
    sessions = create_session_factory(engine)
    runner = _AnnouncingRunner(
        pause_before_offset_commit=args.pause_before_offset_commit,
        group_id=args.group,
        topics=[args.topic],
        kafka=args.bootstrap,
        sessions=sessions,
        units=lambda: UnitOfWork(sessions),
        handlers=effect_handlers(args.group),
        dead_letters=dead_letters,
        max_batch=args.max_batch,
    )
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await runner.start()
        print("started", flush=True)
        await runner.run()
    finally:
        with contextlib.suppress(Exception):
            await runner.stop()
        await dead_letters.stop()
        await engine.dispose()


if __name__ == "__main__":
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
