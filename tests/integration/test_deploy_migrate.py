"""``python -m deploy.migrate``, the init step of Compose and Kubernetes, brings each named
service's database (from its own settings) to the newest migration."""

import asyncio
import os
import sys
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import SERVICES
from tests.infrastructure import TestInfrastructure


async def _revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            return None if found is None else str(found)
    finally:
        await engine.dispose()


async def test_the_migrate_command_migrates_every_service_named(
    infrastructure: TestInfrastructure,
) -> None:
    urls = {}
    for service in SERVICES:
        database = f"migrate_{service.name}_{uuid4().hex[:8]}"
        await infrastructure.create_database(database)
        urls[service] = infrastructure.postgres_url(database)
    env = os.environ | {f"{s.env_prefix}DATABASE_URL": url for s, url in urls.items()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.migrate",
        *(service.name for service in SERVICES),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    for url in urls.values():
        assert await _revision(url) is not None
