"""The append-only audit log in compliance's database: entries, Merkle nodes, tree head."""

import asyncio
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Result, Select, and_, bindparam, select, union_all, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance.adapters.tables import audit_entries, log_state, merkle_nodes
from services.compliance.application.ports import (
    BorrowerPair,
    EntryFilter,
    EntryRow,
    LoanPair,
    MissingNodesError,
    TreeHead,
)
from services.compliance.domain.entries import NewEntry
from shared.db.bulk import among_named, key_arrays
from shared.tlog.tree import Appended, NodeKey, append_leaves, range_nodes

LOG_ID = 1

ENTRY_COLUMNS = (
    audit_entries.c.leaf_index,
    audit_entries.c.event_id,
    audit_entries.c.event_type,
    audit_entries.c.tenant_id,
    audit_entries.c.loan_id,
    audit_entries.c.agency_id,
    audit_entries.c.event_time,
    audit_entries.c.recorded_at,
    audit_entries.c.entry,
    audit_entries.c.leaf_hash,
)
# What the append COPYs (in the caller's transaction: COPY rows cost a fraction of an INSERT's
# parameters, which asyncpg encodes per element); recorded_at takes its default, now().
COPIED_ENTRY_COLUMNS = (
    "leaf_index",
    "event_id",
    "event_type",
    "subject",
    "tenant_id",
    "event_time",
    "loan_id",
    "agency_id",
    "borrower_ref",
    "entry",
    "leaf_hash",
)
# The hot reads' statements, built once (building one cost more than running it).
NODES = select(merkle_nodes.c.level, merkle_nodes.c.idx, merkle_nodes.c.hash).where(
    among_named([merkle_nodes.c.level, merkle_nodes.c.idx], "nodes")
)


def _timelines(columns: Sequence[Any] = ENTRY_COLUMNS, *, bounded: bool = False) -> Select[Any]:
    """Loans' entries and their borrowers' (which name no loan), each with the loan it is
    read for (``of_loan``), in leaf order: two index scans, not an OR over every entry.
    ``bounded``: only the entries below the leaf index ``before`` (a prefix of the log)."""
    c = audit_entries.c
    loan_key = [c.tenant_id, c.loan_id]
    below = [c.leaf_index < bindparam("before")] if bounded else []
    borrowers = (
        select(c.tenant_id, c.loan_id, c.borrower_ref)
        .where(among_named(loan_key, "loans"), c.borrower_ref.is_not(None))
        .distinct()
        .subquery()
    )
    own = select(*columns, c.loan_id.label("of_loan")).where(among_named(loan_key, "loans"), *below)
    of_borrower = (
        select(*columns, borrowers.c.loan_id.label("of_loan"))
        .join_from(
            audit_entries,
            borrowers,
            and_(c.tenant_id == borrowers.c.tenant_id, c.borrower_ref == borrowers.c.borrower_ref),
        )
        .where(c.loan_id.is_(None), *below)
    )
    both = union_all(own, of_borrower).subquery()
    return select(both).order_by(both.c.leaf_index)


TIMELINES = _timelines()
# What judging reads of each entry, in the log's prefix it judges: no ids, times or hashes to
# decode (most of a batch's time under load was reading whole timelines, py-spy).
JUDGED_COLUMNS = (
    audit_entries.c.tenant_id,
    audit_entries.c.leaf_index,
    audit_entries.c.event_type,
    audit_entries.c.entry,
    audit_entries.c.borrower_ref,
)
JUDGED_TIMELINES = _timelines(JUDGED_COLUMNS, bounded=True)
# A judging round's range of the log (a primary-key range scan).
BETWEEN = (
    select(*JUDGED_COLUMNS, audit_entries.c.loan_id)
    .where(
        audit_entries.c.leaf_index >= bindparam("start"),
        audit_entries.c.leaf_index < bindparam("end"),
    )
    .order_by(audit_entries.c.leaf_index)
)
YIELD_EVERY = 500  # rows decoded between two turns of the event loop (the consumer's appends)
OF_BORROWERS = (
    select(*ENTRY_COLUMNS, audit_entries.c.borrower_ref)
    .where(among_named([audit_entries.c.tenant_id, audit_entries.c.borrower_ref], "borrowers"))
    .order_by(audit_entries.c.leaf_index)
)


class SqlAuditLog:
    def __init__(self, session: AsyncSession, *, unpinged: bool = False) -> None:
        """``unpinged``: the session's engine lends connections without a liveness ping (the
        proofs' reads, each statement on its own): a single read lost with its connection is
        made again on a new one."""
        self._session = session
        self._unpinged = unpinged

    async def append(self, entries: Sequence[NewEntry]) -> Appended:
        """Give the entries the next leaf indices, store them and the tree nodes they complete,
        and move the tree head, all in the caller's transaction.

        The head row is locked for the transaction, so concurrent writers (replicas) queue and
        indices stay gap-free; the frontier (``O(log n)`` nodes) is all that is read. It is
        read in a statement of its own, after the lock: a statement that waited for the lock
        sees the head another writer committed meanwhile but not that writer's nodes (its
        snapshot predates them), so one statement for both fails under contention.
        """
        head = await self.head(for_update=True)
        frontier = await self.nodes(range_nodes(0, head.size))
        appended = append_leaves(head.size, frontier, [entry.leaf_hash for entry in entries])
        copy = await self._driver()
        await _copy(
            copy,
            audit_entries.name,
            [
                (
                    head.size + i,
                    e.event_id,
                    e.event_type,
                    e.subject,
                    e.lender_id,
                    e.event_time,
                    e.loan_id,
                    e.agency_id,
                    e.borrower_ref,
                    e.canonical,
                    e.leaf_hash,
                )
                for i, e in enumerate(entries)
            ],
            COPIED_ENTRY_COLUMNS,
        )
        await _copy(
            copy,
            merkle_nodes.name,
            [(level, i, h) for (level, i), h in appended.nodes.items()],
            ("level", "idx", "hash"),
        )
        await self._session.execute(
            update(log_state)
            .where(log_state.c.id == LOG_ID)
            .values(size=appended.size, root_hash=appended.root)
        )
        return appended

    async def _driver(self) -> asyncpg.Connection:
        """The session's asyncpg connection, in its transaction (what COPY runs on)."""
        raw = await (await self._session.connection()).get_raw_connection()
        driver: asyncpg.Connection | None = raw.driver_connection
        if driver is None:
            raise RuntimeError("the session's connection is closed")
        return driver

    async def head(self, *, for_update: bool = False) -> TreeHead:
        query = select(log_state.c.size, log_state.c.root_hash).where(log_state.c.id == LOG_ID)
        row = (
            await self._session.execute(query.with_for_update() if for_update else query)
        ).one_or_none()
        if row is None:
            raise RuntimeError("the log_state row is missing; run the migrations")
        return TreeHead(int(row.size), bytes(row.root_hash))

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        parameters = key_arrays("nodes", wanted, 2)
        try:
            rows = await self._session.execute(NODES, parameters)
        except DBAPIError as error:
            # No ping before lending a connection (a round trip as long as the read): one lost
            # since is found here, invalidated with the pool's older ones, and the read (no
            # transaction around it) made once more on a new one.
            if not (self._unpinged and error.connection_invalidated):
                raise
            await self._session.rollback()
            rows = await self._session.execute(NODES, parameters)
        found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}
        if len(found) != len(wanted):
            raise MissingNodesError(f"{len(wanted) - len(found)} Merkle nodes are not stored")
        return found

    async def entries(self, where: EntryFilter, limit: int) -> list[EntryRow]:
        """Entries in leaf order past the cursor, at most ``limit``."""
        c = audit_entries.c
        conditions = [c.leaf_index > where.after_index]
        for column, value in (
            (c.tenant_id, where.lender_id),
            (c.loan_id, where.loan_id),
            (c.agency_id, where.agency_id),
            (c.event_type, where.event_type),
        ):
            if value is not None:
                conditions.append(column == value)
        if where.time_from is not None:
            conditions.append(c.event_time >= where.time_from)
        if where.time_to is not None:
            conditions.append(c.event_time < where.time_to)
        rows = await self._session.execute(
            select(*ENTRY_COLUMNS).where(and_(*conditions)).order_by(c.leaf_index).limit(limit)
        )
        return _dicts(rows)

    async def timeline(self, lender_id: str, loan_id: str) -> list[EntryRow]:
        """A lender's loan in leaf order: its own entries and its borrower's (opt-outs,
        preferences), which name the borrower's pseudonym but no loan."""
        return (await self.timelines([(lender_id, loan_id)])).get((lender_id, loan_id), [])

    async def timelines(self, loans: Collection[LoanPair]) -> dict[LoanPair, list[EntryRow]]:
        """The timelines of these (lender, loan) pairs, read in one statement."""
        found: dict[LoanPair, list[EntryRow]] = {}
        result = await self._session.execute(TIMELINES, key_arrays("loans", loans, 2))
        for entry in _dicts(result):
            found.setdefault((entry["tenant_id"], entry.pop("of_loan")), []).append(entry)
        return found

    async def judged_timelines(
        self, loans: Collection[LoanPair], before: int
    ) -> dict[LoanPair, list[EntryRow]]:
        """``timelines`` with ``leaf_index``, ``event_type``, ``entry`` and ``borrower_ref``
        only, of the entries below the leaf index ``before``."""
        found: dict[LoanPair, list[EntryRow]] = {}
        parameters = {**key_arrays("loans", loans, 2), "before": before}
        result = await self._session.execute(JUDGED_TIMELINES, parameters)
        for n, (lender_id, leaf_index, event_type, entry, ref, of_loan) in enumerate(result):
            found.setdefault((lender_id, of_loan), []).append(
                {
                    "leaf_index": leaf_index,
                    "event_type": event_type,
                    "entry": entry,
                    "borrower_ref": ref,
                }
            )
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        return found

    async def between(self, start: int, end: int) -> list[EntryRow]:
        """The entries ``[start, end)`` in leaf order: ``tenant_id``, ``loan_id``,
        ``borrower_ref``, ``leaf_index``, ``event_type`` and ``entry``."""
        rows = await self._session.execute(BETWEEN, {"start": start, "end": end})
        return [
            {
                "tenant_id": lender_id,
                "leaf_index": leaf_index,
                "event_type": event_type,
                "entry": entry,
                "borrower_ref": ref,
                "loan_id": loan_id,
            }
            for lender_id, leaf_index, event_type, entry, ref, loan_id in rows
        ]

    async def of_borrowers(
        self, borrowers: Collection[BorrowerPair]
    ) -> dict[BorrowerPair, list[EntryRow]]:
        """Every entry naming these borrowers at their lenders, in leaf order (the borrower
        index), read in one statement."""
        found: dict[BorrowerPair, list[EntryRow]] = {}
        if not borrowers:
            return found
        rows = await self._session.execute(OF_BORROWERS, key_arrays("borrowers", borrowers, 2))
        for entry in _dicts(rows):
            found.setdefault((entry["tenant_id"], entry.pop("borrower_ref")), []).append(entry)
        return found


async def _copy(
    connection: asyncpg.Connection,
    table: str,
    records: list[tuple[Any, ...]],
    columns: Sequence[str],
) -> None:
    """COPY rows on the session's connection, its errors raised as SQLAlchemy raises the
    driver's (what the consumer runner tells transient from poison by): a lost connection is
    an invalidated one, a refused row keeps its SQLSTATE."""
    try:
        await connection.copy_records_to_table(table, records=records, columns=columns)
    except (asyncpg.InterfaceError, OSError) as error:
        raise OperationalError(f"COPY {table}", None, error, connection_invalidated=True) from error
    except asyncpg.PostgresError as error:
        raise DBAPIError(f"COPY {table}", None, error) from error


def _dicts(result: Result[Any]) -> list[EntryRow]:
    """Rows as dicts, the column names read once (``dict(row._mapping)`` built a key view per
    row: most of the judge's reading time under load, py-spy)."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]
