"""What a broker says about topics' replication: replicas per partition, min.insync.replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

Replication = tuple[frozenset[int], str]
"""The replica counts of a topic's partitions, and its ``min.insync.replicas``."""


async def replication_of(
    bootstrap: str,
    chosen: Callable[[str], bool],
    *,
    including: Collection[str] = (),
    within: float = 30.0,
) -> dict[str, Replication]:
    """Each chosen topic's replication. Asked again while the broker answering has not yet
    learned all of a topic made a moment ago: not listed (one of ``including``), no partitions
    or no configs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(within):
            while True:
                found = await _ask(admin, [t for t in await admin.list_topics() if chosen(t)])
                complete = all(replicas and min_insync for replicas, min_insync in found.values())
                if complete and set(including) <= found.keys():
                    return found
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _ask(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, Replication]:
    if not topics:
        return {}
    described = await admin.describe_topics(topics)
    replicas = {
        t["topic"]: frozenset(len(p["replicas"]) for p in t["partitions"]) for t in described
    }
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})
        for topic in topics
    ]
    min_insync: dict[str, str] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            for entry in resource["config_entries"]:
                min_insync[resource["resource_name"]] = str(entry["config_value"])
    return {
        topic: (replicas.get(topic, frozenset()), min_insync.get(topic, "")) for topic in topics
    }
