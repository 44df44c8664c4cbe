"""The asyncpg connection under a session's transaction, for the batch writes that are cheaper
without SQLAlchemy: COPY, and ``INSERT ... SELECT FROM unnest(arrays)`` whose arrays asyncpg
encodes in C (SQLAlchemy would process each value in Python first).

JSONB travels as text: the engine's connections read and write it so (SQLAlchemy's asyncpg
dialect sets that codec), and values are serialized with orjson.
"""

from typing import Any, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The session's connection, in its transaction (begun first if no statement ran yet)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if getattr(raw.dbapi_connection, "_transaction", None) is None:
        await session.execute(text("SELECT 1"))  # the dialect begins its transaction lazily
    return cast(asyncpg.Connection, raw.driver_connection)


def rows_as_columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of ``width`` values as ``width`` arrays (one query parameter each)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]
