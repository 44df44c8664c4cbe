"""Every service's copy of the credential registry, kept current from the credentials topic.

Each replica reads the whole compacted topic from the beginning on every start, outside any
consumer group (every replica must see every record), mirrors each record into its own
``api_keys`` table and drops the key from its authenticator's caches: a revocation reaches
every running replica of every service as fast as Kafka delivers it (well under a second).
The table lets a service verify keys while Kafka is away; until this process has read up to the
end offsets it saw at start it is not ready (``caught_up``), so a replica restarted after a
revocation never serves a revoked key it has not heard of.
"""

import asyncio
from collections.abc import Callable

import structlog

from shared.auth.keys import ApiKeyStore
from shared.auth.registry import assign_whole_topic, credentials_consumer, decode, reached
from shared.kafka.connection import KafkaTarget

log = structlog.get_logger(__name__)
POLL_MS = 1000


class CredentialFeed:
    def __init__(
        self,
        kafka: KafkaTarget,
        topic: str,
        store: ApiKeyStore,
        changed: Callable[[str], None],
        client_id: str,
    ) -> None:
        self._kafka = kafka
        self.topic = topic
        self._store = store
        self._changed = changed
        self._client_id = client_id
        self.caught_up = asyncio.Event()
        self.positions: dict[int, int] = {}  # partition -> the next offset to read

    async def run(self) -> None:
        """Read until cancelled; raises when Kafka or the database fails (the caller restarts
        it, and it reads the topic again from the beginning: mirroring is idempotent)."""
        consumer = credentials_consumer(self._kafka, self._client_id)
        await consumer.start()
        try:
            ends = await assign_whole_topic(consumer, self.topic)
            while True:
                batches = await consumer.getmany(timeout_ms=POLL_MS)
                records = [
                    (message.offset, decode(message.value))
                    for messages in batches.values()
                    for message in messages
                ]
                for offset, record in records:
                    if record is None:
                        log.error("unreadable credential record skipped", offset=offset)
                readable = [record for _, record in records if record is not None]
                await self._store.mirror([record.mirrored() for record in readable])
                for record in readable:
                    self._changed(record.key_id)
                for partition in ends:
                    self.positions[partition.partition] = await consumer.position(partition)
                if not self.caught_up.is_set() and await reached(consumer, ends):
                    log.info("credential registry read", positions=self.positions)
                    self.caught_up.set()
        finally:
            await consumer.stop()
