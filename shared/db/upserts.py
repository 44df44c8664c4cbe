"""Writing the newest version of a row: the batch upsert every service needs for loans."""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def upsert_if_newer(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    version: str = "as_of",
) -> None:
    """Insert rows, or update the stored ones whose ``version`` column is older.

    One statement for the whole batch; rows must be unique by ``key`` (PostgreSQL refuses to
    update one row twice in a statement) and share the same columns. Columns not given keep
    their stored value (or their default on insert).
    """
    if not rows:
        return
    statement = _upsert_statement(table, tuple(rows[0]), tuple(key), version)
    await session.execute(statement, list(rows))


@lru_cache(maxsize=64)
def _upsert_statement(
    table: Table, columns: tuple[str, ...], key: tuple[str, ...], version: str
) -> Insert:
    """Built once per shape: making ``excluded`` (an alias of every column) took longer than
    running the statement for a few rows."""
    statement = pg_insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[column] for column in key],
        set_={column: statement.excluded[column] for column in columns if column not in key},
        where=table.c[version] < statement.excluded[version],
    )
