"""The notifier's migrations go down to the reminder plan of 0004 and up again."""

from alembic import command
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier.wiring import MIGRATIONS
from shared.db.migrations import alembic_config, upgrade_to_head
from tests.infrastructure import TestInfrastructure


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_notifications_schema_downgrades_and_upgrades_again(
    infrastructure: TestInfrastructure,
) -> None:
    database = "notifier_migrations_roundtrip"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    config = alembic_config(MIGRATIONS, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:

            def down(sync: Connection) -> set[str]:
                config.attributes["connection"] = sync
                command.downgrade(config, "0004")
                return _tables(sync)

            tables = await connection.run_sync(down)
        assert "reminders" in tables
        assert not {"notifications", "notification_history", "borrowers", "contacts"} & tables
        await upgrade_to_head(MIGRATIONS, url)
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
        assert {"notifications", "notification_history", "borrowers", "contacts"} <= tables
        assert "reminders" not in tables
    finally:
        await engine.dispose()
