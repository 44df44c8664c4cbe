"""Re-encrypting stored sealed values to the current data key, in small batches.

A service that stores personal data seals it under its own data key ring
(``<SERVICE>_DATA_KEYS``, see :class:`shared.settings.DataKeySettings`): the first key seals,
every key of the ring opens. A JSON(B) column holds a :class:`~shared.crypto.SealedValue`
(``{"kid": ..., "ct": ...}``), sealed with associated data made of the row's own identity
(:meth:`SealedColumn.associated_data`), so a value copied to another row does not open.

To rotate: put the new key first in the ring (``k2:...,k1:...``) on every replica, then run
``collections reseal <service>``; once it reports nothing left under ``k1``, drop ``k1``.
:func:`reseal` walks the table in primary-key order, a batch per transaction, locking the rows
it changes with ``FOR UPDATE SKIP LOCKED`` (a row a running service holds is passed over and
counted as left: run again). Each row is opened with any key of the ring and sealed again under
the current one; rows already under it are not touched, so a re-run is a no-op and an
interrupted run resumes where it stopped.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, Table, and_, bindparam, func, select
from sqlalchemy import tuple_ as row_of
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.crypto import DecryptionError, KeyRing, SealedValue

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class SealedColumn:
    """A column of sealed values, and the columns whose values make its associated data."""

    table: Table
    name: str
    bound_to: tuple[str, ...]  # e.g. ("lender_id", "loan_id"): the row's identity

    def associated_data(self, row: Mapping[str, Any]) -> bytes:
        """What a value of this column is sealed with besides the key: the row's identity."""
        return "\x1f".join(str(row[name]) for name in self.bound_to).encode()

    def seal(self, ring: KeyRing, plaintext: bytes, row: Mapping[str, Any]) -> dict[str, str]:
        """The column's value for ``row`` (as stored: the sealed value as JSON)."""
        return ring.seal(plaintext, self.associated_data(row)).model_dump()

    def open(self, ring: KeyRing, row: Mapping[str, Any]) -> bytes:
        """The plaintext of the column's value in ``row`` (raises DecryptionError)."""
        stored = SealedValue.model_validate(row[self.name])
        return ring.open(stored, self.associated_data(row))

    @property
    def qualified_name(self) -> str:
        return f"{self.table.name}.{self.name}"

    @property
    def column(self) -> Column[Any]:
        return self.table.c[self.name]

    @property
    def primary_key(self) -> list[Column[Any]]:
        return list(self.table.primary_key.columns)


Opener = Callable[[SealedColumn, Mapping[str, Any]], bytes]
"""Opens a stale value of a row; by default with the data key ring. A service whose older rows
were sealed otherwise (e.g. under the transit key, as received) passes its own."""


@dataclass(frozen=True)
class ResealJob:
    """A column to re-seal under the first key of ``ring``, with how its stale values open
    (see :data:`Opener`; by default with ``ring``) and the other columns the opener reads."""

    column: SealedColumn
    ring: KeyRing
    opener: Opener | None = None
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchDone:
    """Progress, reported after each committed batch."""

    column: str  # "table.column"
    resealed: int  # in this batch
    total: int  # so far in this run


@dataclass(frozen=True)
class ResealReport:
    column: str
    resealed: int
    batches: int
    left: int  # still under an old key: rows locked by a running service when passed


def resealed_value(
    column: SealedColumn, ring: KeyRing, row: Mapping[str, Any], opener: Opener | None = None
) -> dict[str, str] | None:
    """The row's value sealed under the ring's current key; None if it already is."""
    value = row[column.name]
    if value is None or value.get("kid") == ring.primary:
        return None
    plaintext = opener(column, row) if opener else column.open(ring, row)
    return column.seal(ring, plaintext, row)


def stale(column: SealedColumn, current_kid: str) -> ColumnElement[bool]:
    """Rows whose value is sealed under another key than the current one."""
    kid = column.column.op("->>")("kid")
    return and_(column.column.is_not(None), kid.is_distinct_from(current_kid))


def _batch_query(
    column: SealedColumn, kid: str, after: tuple[Any, ...] | None, size: int, reads: Sequence[str]
) -> Select[Any]:
    key = column.primary_key
    names = dict.fromkeys([*(c.name for c in key), *column.bound_to, *reads, column.name])
    query = select(*(column.table.c[name] for name in names)).where(stale(column, kid))
    if after is not None:
        query = query.where(row_of(*key) > row_of(*after))
    return query.order_by(*key).limit(size).with_for_update(skip_locked=True)


class ResealError(Exception):
    """A stored value does not open (its key left the ring too early, or it was tampered
    with); the batch it was in is rolled back, the batches before it are kept."""


async def reseal(
    engine: AsyncEngine,
    job: ResealJob,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[BatchDone], None] | None = None,
) -> ResealReport:
    """Re-seal every value of the job's column not under its ring's current key,
    ``batch_size`` rows per transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    column, ring = job.column, job.ring
    key = column.primary_key
    update = (
        column.table.update()
        .where(and_(*(c == bindparam(f"key_{c.name}") for c in key)))
        .values({column.name: bindparam("resealed", type_=column.column.type)})
    )
    after: tuple[Any, ...] | None = None
    total = batches = 0
    while True:
        async with engine.begin() as connection:
            query = _batch_query(column, ring.primary, after, batch_size, job.reads)
            rows = [dict(row._mapping) for row in await connection.execute(query)]
            if not rows:
                break
            changes = []
            for row in rows:
                try:
                    value = resealed_value(column, ring, row, job.opener)
                except DecryptionError as error:
                    where = ", ".join(f"{c.name}={row[c.name]}" for c in key)
                    raise ResealError(f"{column.qualified_name} ({where}): {error}") from error
                if value is not None:
                    changes.append(
                        {**{f"key_{c.name}": row[c.name] for c in key}, "resealed": value}
                    )
            if changes:
                await connection.execute(update, changes)
        after = tuple(rows[-1][c.name] for c in key)
        total += len(changes)
        batches += 1
        if progress is not None:
            progress(BatchDone(column.qualified_name, len(changes), total))
    return ResealReport(
        column.qualified_name, total, batches, await count_stale(engine, column, ring)
    )


async def count_stale(engine: AsyncEngine, column: SealedColumn, ring: KeyRing) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).select_from(column.table).where(stale(column, ring.primary))
        return int((await connection.execute(query)).scalar_one())


async def kid_counts(engine: AsyncEngine, column: SealedColumn) -> dict[str, int]:
    """How many values each key id seals (to tell when an old key can leave the ring)."""
    kid = column.column.op("->>")("kid")
    query = select(kid, func.count()).where(column.column.is_not(None)).group_by(kid).order_by(kid)
    async with engine.connect() as connection:
        return {str(k): int(n) for k, n in await connection.execute(query)}
