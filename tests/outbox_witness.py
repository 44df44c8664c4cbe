"""A copy of every row written to a service's outbox, for the tests' checks.

The relay deletes the rows it publishes (:mod:`shared.kafka.outbox`), so what a write put in
the outbox is gone once Kafka has it. A test database gets a trigger (tests only, never a
migration) that copies each committed row into ``outbox_witness``, in the transaction that
wrote it: what a test counts there is what the service committed, whatever the relay did since,
and an event the relay deleted without sending it would still be missed by its consumers.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

INSTALL = (
    "CREATE TABLE IF NOT EXISTS outbox_witness ("
    " id bigint PRIMARY KEY, event_id uuid NOT NULL, topic text NOT NULL,"
    " message_key text NOT NULL, payload bytea NOT NULL)",
    "CREATE OR REPLACE FUNCTION outbox_witness() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  INSERT INTO outbox_witness (id, event_id, topic, message_key, payload)"
    "  SELECT id, event_id, topic, message_key, payload FROM written;"
    "  RETURN NULL;"
    " END $$",
    "DROP TRIGGER IF EXISTS outbox_witness ON outbox",
    "CREATE TRIGGER outbox_witness AFTER INSERT ON outbox REFERENCING NEW TABLE AS written"
    " FOR EACH STATEMENT EXECUTE FUNCTION outbox_witness()",
)


async def witness_outbox(url: str) -> None:
    """From now on, copy each row written to the outbox of the database at ``url``."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in INSTALL:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
