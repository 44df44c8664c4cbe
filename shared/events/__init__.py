"""Event contracts: the CloudEvents envelope, the topics and every event's data model."""

from shared.events.catalog import EVENT_TYPES, EventType
from shared.events.envelope import Envelope, new_envelope
from shared.events.topics import Topic, dead_letter_topic

__all__ = [
    "EVENT_TYPES",
    "Envelope",
    "EventType",
    "Topic",
    "dead_letter_topic",
    "new_envelope",
]
