"""Alembic at start-up: each service's migrations, applied under an advisory lock.

Each service's ``migrations/env.py`` is two lines that call :func:`run_env`.
"""

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.engine import connect_ssl
from shared.db.kit_tables import KIT_METADATA
from shared.db.tls import PostgresTls


def alembic_config(script_location: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade_to_head(
    script_location: Path, database_url: str, tls: PostgresTls | None = None
) -> None:
    """Bring the database to the newest revision; replicas starting together wait their turn."""
    config = alembic_config(script_location, database_url)
    lock_id = zlib.crc32(str(script_location.name).encode())
    engine = create_async_engine(database_url, connect_args=connect_ssl(tls))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
            await connection.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def run_env(service_metadata: MetaData) -> None:
    """The body of a service's ``env.py``: online migrations, sharing a given connection."""
    targets = [service_metadata, KIT_METADATA]
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, targets)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("set sqlalchemy.url or pass a connection")
    asyncio.run(_run_with_new_engine(url, targets))


async def _run_with_new_engine(url: str, targets: list[MetaData]) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run, targets)
    await engine.dispose()


def _run(connection: Connection, targets: list[MetaData]) -> None:
    context.configure(connection=connection, target_metadata=targets, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
