"""Topics are created with the replication a deployment asks for."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from shared.kafka import admin


class FakeAdmin:
    created: list[Any]

    def __init__(self, **_: Any) -> None:
        FakeAdmin.created = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def list_topics(self) -> list[str]:
        return ["existing"]

    async def create_topics(self, topics: list[Any]) -> None:
        FakeAdmin.created.extend(topics)


def test_replication_defaults_to_one_broker() -> None:
    settings = IntakeSettings()
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (1, 1)


def test_min_insync_replicas_cannot_exceed_the_replication_factor() -> None:
    with pytest.raises(ValidationError):
        IntakeSettings(topic_replication_factor=2, topic_min_insync_replicas=3)


async def test_missing_topics_are_created_with_the_replication_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin, "AIOKafkaAdminClient", FakeAdmin)
    await admin.ensure_topics(
        "-:0", ["existing", "new"], 6, replication_factor=3, min_insync_replicas=2
    )
    [topic] = FakeAdmin.created
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("new", 6, 3)
    assert topic.topic_configs == {"min.insync.replicas": "2"}
