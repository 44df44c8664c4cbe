"""Async engine and session factory; callers own the transaction (``session.begin()``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.db.tls import PostgresTls

SessionFactory = async_sessionmaker[AsyncSession]


CONNECT_TIMEOUT_SECONDS = 10
COMMAND_TIMEOUT_SECONDS = 60


def create_engine(
    url: str, pool_size: int = 10, tls: PostgresTls | None = None, *, autocommit: bool = False
) -> AsyncEngine:
    """Pooled engine whose statements time out, so a database host that vanishes without a
    reset surfaces as a (transient) error instead of a hang. ``tls``: the service's TLS
    settings (None: asyncpg's defaults, as the URL and ``PGSSLMODE`` say).

    ``autocommit``: for single read statements. Each statement is its own transaction, so a
    read costs one round trip instead of three (BEGIN, the read, COMMIT), and so does the
    pool's liveness ping on checkout (a transaction's ping is BEGIN, ``;``, ROLLBACK)."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
            **connect_ssl(tls),
        },
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )


def connect_ssl(tls: PostgresTls | None) -> dict[str, Any]:
    """asyncpg's ``ssl`` keyword argument for these settings (none for None)."""
    return {} if tls is None else {"ssl": tls.connect_ssl()}


def _json_text(value: Any) -> str:
    """JSON(B) parameters through orjson: json.dumps was a tenth of a batch insert's time."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def read_only_transaction(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A transaction in which PostgreSQL refuses every write, rolled back at the end (what a
    dry run reads through)."""
    async with sessions() as session:
        await session.execute(text("SET TRANSACTION READ ONLY"))
        try:
            yield session
        finally:
            await session.rollback()


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
