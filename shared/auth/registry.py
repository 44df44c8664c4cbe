"""The credential registry: one compacted Kafka topic, keyed by key id, holding every key.

Each record is the latest state of one key: its role and tenant, the SHA-256 of the key (never
the key), when it was issued and, once revoked, when. Compaction keeps the latest record per
key for good, so reading the topic from the beginning gives the whole registry. The operator
command (``collections keys``) writes it; every service reads it (see ``feed``).
"""

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict, Field

from shared.auth.keys import (
    ALL_LENDERS,
    IssuedKey,
    MirroredKey,
    Role,
    hash_secret,
    new_api_key,
    split_api_key,
)
from shared.kafka.admin import ensure_topics
from shared.kafka.connection import KafkaTarget, client_options
from shared.kafka.producer import create_producer

TOPIC = "collections.credentials.v1"  # not an event stream: kept out of ``Topic`` on purpose
TOPIC_WAIT_SECONDS = 30.0
SUBSCRIPTION_POLLS = 20  # of 50 ms: how long a subscription may take before it is made again
TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "0",
    "segment.ms": str(24 * 3600 * 1000),  # let a revoked key's old records be compacted daily
}


class CredentialRecord(BaseModel):
    """The value of a record on the credentials topic (its key is ``key_id``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1)
    role: Role
    tenant: str = Field(
        min_length=1,
        description="lender id, agency id, the lender an auditor sees ('*': all), operator name",
    )
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    label: str = ""
    issued_at: datetime
    revoked_at: datetime | None = None

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    def mirrored(self) -> MirroredKey:
        return MirroredKey(
            key_id=self.key_id,
            secret_hash=bytes.fromhex(self.secret_sha256),
            role=self.role,
            tenant=self.tenant,
            label=self.label,
            issued_at=self.issued_at,
            revoked_at=self.revoked_at,
        )


async def ensure_credentials_topic(
    kafka: KafkaTarget, topic: str, replication_factor: int = 1, min_insync_replicas: int = 1
) -> None:
    """One partition (a few thousand small records at most), compacted."""
    await ensure_topics(
        kafka,
        [topic],
        partitions=1,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
        configs=TOPIC_CONFIGS,
    )


def credentials_topic(namespace: str = "") -> str:
    """The name on the broker, under a topic namespace as the services' topics are."""
    return f"{namespace}{TOPIC}"


def credentials_consumer(kafka: KafkaTarget, client_id: str) -> AIOKafkaConsumer:
    """A consumer outside any group: it reads every partition from where it is told."""
    return AIOKafkaConsumer(
        **client_options(kafka),
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        fetch_max_wait_ms=200,
    )


async def assign_whole_topic(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    """Read every partition from its beginning (outside a group, a subscription assigns them
    all); returns the end offsets seen now. A topic created a moment ago may take a little
    while to appear in the brokers' metadata, and a subscription made while its partitions
    had no leader yet may wait for the next metadata refresh (minutes): one not assigned
    within a second is made again, which asks the brokers at once."""
    async with asyncio.timeout(TOPIC_WAIT_SECONDS):
        while topic not in await consumer.topics():  # noqa: ASYNC110 - asks the brokers each time
            await asyncio.sleep(0.1)
        while not consumer.assignment():
            consumer.subscribe([topic])
            for _ in range(SUBSCRIPTION_POLLS):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.05)  # aiokafka offers nothing to await
            else:
                consumer.unsubscribe()
    partitions = sorted(consumer.assignment())
    await consumer.seek_to_beginning(*partitions)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return ends


async def reached(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    """Whether the consumer has read every partition up to ``ends``."""
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


def decode(value: bytes | None) -> CredentialRecord | None:
    """A record's value, or None for one this version cannot read (logged by the caller)."""
    if value is None:
        return None
    try:
        return CredentialRecord.model_validate_json(value)
    except ValueError:
        return None


async def read_registry(kafka: KafkaTarget, topic: str) -> dict[str, CredentialRecord]:
    """The whole registry as it is now: the latest record of each key id."""
    consumer = credentials_consumer(kafka, "credentials-reader")
    await consumer.start()
    try:
        ends = await assign_whole_topic(consumer, topic)
        registry: dict[str, CredentialRecord] = {}
        while not await reached(consumer, ends):
            batches = await consumer.getmany(*ends, timeout_ms=1000)
            for messages in batches.values():
                for message in messages:
                    record = decode(message.value)
                    if record is not None:
                        registry[record.key_id] = merged(registry.get(record.key_id), record)
        return registry
    finally:
        await consumer.stop()


async def end_offsets(kafka: KafkaTarget, topic: str) -> dict[int, int]:
    """Partition -> the offset the next record will get."""
    consumer = credentials_consumer(kafka, "credentials-reader")
    await consumer.start()
    try:
        ends = await assign_whole_topic(consumer, topic)
        return {partition.partition: end for partition, end in ends.items()}
    finally:
        await consumer.stop()


def merged(earlier: CredentialRecord | None, later: CredentialRecord) -> CredentialRecord:
    """The state of a key after ``later``: a revocation is final, whatever comes after it."""
    if earlier is not None and earlier.revoked_at is not None:
        return later.model_copy(update={"revoked_at": earlier.revoked_at})
    return later


class CredentialIssuer:
    """Writes the registry: issues and revokes keys (idempotent producer, ``acks=all``)."""

    def __init__(self, kafka: KafkaTarget, topic: str) -> None:
        self.kafka = kafka
        self.topic = topic

    async def publish(self, *records: CredentialRecord) -> None:
        producer = create_producer(self.kafka, client_id="credentials-issuer")
        await producer.start()
        try:
            for record in records:
                await producer.send_and_wait(
                    self.topic, record.encode(), key=record.key_id.encode()
                )
        finally:
            await producer.stop()

    async def issue(
        self, role: Role, tenant: str, label: str = "", api_key: str | None = None
    ) -> IssuedKey:
        """A new key (or a given one, e.g. the dev stack's demo keys), valid at every service
        that serves ``role``. The key is returned once; the registry holds only its hash."""
        if tenant == ALL_LENDERS and role is not Role.AUDITOR:
            raise ValueError(f"'{ALL_LENDERS}' (every lender) is a tenant of auditors only")
        if api_key is None:
            key_id, api_key = new_api_key()
        else:
            parts = split_api_key(api_key)
            if parts is None:
                raise ValueError("not an API key of this platform")
            key_id = parts[0]
        await self.publish(
            CredentialRecord(
                key_id=key_id,
                role=role,
                tenant=tenant,
                secret_sha256=hash_secret(api_key).hex(),
                label=label,
                issued_at=datetime.now(UTC),
            )
        )
        return IssuedKey(key_id=key_id, api_key=api_key, role=role, tenant=tenant)

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key everywhere; False if no active key has this id."""
        record = (await self.list()).get(key_id)
        if record is None or record.revoked_at is not None:
            return False
        await self.publish(record.model_copy(update={"revoked_at": datetime.now(UTC)}))
        return True

    async def list(self) -> Mapping[str, CredentialRecord]:
        return await read_registry(self.kafka, self.topic)
