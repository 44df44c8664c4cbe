"""Topic creation and broker reachability."""

import asyncio
import contextlib
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.kafka.connection import KafkaTarget, client_options


async def ensure_topics(
    kafka: KafkaTarget,
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet, with ``configs`` beside min.insync.replicas;
    existing topics are left as they are."""
    admin = AIOKafkaAdminClient(**client_options(kafka), client_id="topic-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs={"min.insync.replicas": str(min_insync_replicas), **(configs or {})},
            )
            for name in sorted(set(names) - existing)
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def broker_is_reachable(kafka: KafkaTarget, within: float = 3.0) -> bool:
    admin = AIOKafkaAdminClient(
        **client_options(kafka), client_id="readiness", request_timeout_ms=3000
    )
    try:
        async with asyncio.timeout(within):
            await admin.start()
            await admin.describe_cluster()
    except Exception:
        return False
    finally:
        await admin.close()
    return True
