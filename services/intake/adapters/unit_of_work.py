"""The unit of work on intake's database: the kit's, with intake's stores, and events a batch
serialized already COPYed into the outbox (same columns as ``shared.db.kit_tables.outbox``)."""

from collections import Counter
from collections.abc import Sequence
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.adapters.borrowers import SqlBorrowerStore
from services.intake.adapters.disputes import SqlDisputeStore
from services.intake.adapters.driver import driver_connection
from services.intake.adapters.history import SqlEventHistory
from services.intake.adapters.idempotency import SqlIdempotencyKeys
from services.intake.adapters.loans import SqlLoanStore
from services.intake.application.ports import EncodedEvent
from shared.db.unit_of_work import UnitOfWork
from shared.events.catalog import EVENT_TYPES
from shared.observability.metrics import EVENTS_PUBLISHED
from shared.observability.tracing import carrier_for

_OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "payload", "traceparent", "tracestate")
SOURCE = "/collections/intake"  # the source of every event intake publishes


class SqlUnitOfWork(UnitOfWork):
    loans: SqlLoanStore
    history: SqlEventHistory
    idempotency_keys: SqlIdempotencyKeys
    disputes: SqlDisputeStore
    borrowers: SqlBorrowerStore

    def _open(self, session: AsyncSession) -> None:
        self.loans = SqlLoanStore(session)
        self.history = SqlEventHistory(session)
        self.idempotency_keys = SqlIdempotencyKeys(session)
        self.disputes = SqlDisputeStore(session)
        self.borrowers = SqlBorrowerStore(session)

    async def __aenter__(self) -> Self:
        self._encoded: Counter[str] = Counter()  # events COPYed, by type (for the metrics)
        return await super().__aenter__()

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """COPY the events into the outbox now, in this transaction, each with the trace
        context of the work publishing it (as ``publish`` stores it)."""
        if not events:
            return
        if self._topic_names is None:
            raise RuntimeError("this unit of work publishes no events (it names no topics)")
        topics = {
            kind: self._topic_names(EVENT_TYPES[kind].topic) for kind in {e.type for e in events}
        }
        records = []
        for event in events:
            trace = carrier_for(event.key)
            records.append(
                (
                    event.event_id,
                    topics[event.type],
                    event.key,
                    event.payload,
                    trace[0] if trace else None,
                    trace[1] if trace else None,
                )
            )
        connection = await driver_connection(self.session)
        await connection.copy_records_to_table("outbox", records=records, columns=_OUTBOX_COLUMNS)
        self._encoded.update(event.type for event in events)

    async def commit(self) -> None:
        encoded, self._encoded = self._encoded, Counter()
        await super().commit()
        if encoded:
            for kind, count in encoded.items():
                EVENTS_PUBLISHED.labels(SOURCE, kind).inc(count)
            self._on_commit()
