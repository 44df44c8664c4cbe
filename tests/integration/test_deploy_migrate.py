"""``collections migrate``, the init step of Compose and Kubernetes, brings each named
service's database (from its own settings) to the newest migration, and every service's when
none is named."""

from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.devstack.platform import SERVICES
from tests.infrastructure import TestInfrastructure
from tests.support.operator_cli import collections


async def _revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            if exists is None:
                return None
            found = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            return None if found is None else str(found)
    finally:
        await engine.dispose()


async def _databases(infrastructure: TestInfrastructure) -> dict[str, str]:
    urls = {}
    for service in SERVICES:
        database = f"migrate_{service.name}_{uuid4().hex[:8]}"
        await infrastructure.create_database(database)
        urls[service.env_prefix] = infrastructure.postgres_url(database)
    return urls


async def test_the_migrate_command_migrates_the_services_named(
    infrastructure: TestInfrastructure,
) -> None:
    urls = await _databases(infrastructure)
    env = {f"{prefix}DATABASE_URL": url for prefix, url in urls.items()}
    migrated = await collections("migrate", "intake", "compliance", env=env)
    assert migrated.code == 0, migrated.err
    assert "intake: migrated to head" in migrated.out
    assert "compliance: migrated to head" in migrated.out
    assert " 2/2 " in migrated.err  # the progress bar, on standard error
    assert await _revision(urls["INTAKE_"]) is not None
    assert await _revision(urls["COMPLIANCE_"]) is not None
    assert await _revision(urls["NOTIFIER_"]) is None  # not named: untouched


async def test_the_migrate_command_migrates_every_service_when_none_is_named(
    infrastructure: TestInfrastructure,
) -> None:
    urls = await _databases(infrastructure)
    env = {f"{prefix}DATABASE_URL": url for prefix, url in urls.items()}
    migrated = await collections("migrate", env=env)
    assert migrated.code == 0, migrated.err
    for url in urls.values():
        assert await _revision(url) is not None
    again = await collections("migrate", "notifier", env=env)  # nothing left to do
    assert again.code == 0, again.err
    unknown = await collections("migrate", "billing", env=env)
    assert unknown.code == 2
