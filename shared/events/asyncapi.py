"""The AsyncAPI 3.0 document of the platform's topics, generated from the event catalogue.

``python -m shared.events.asyncapi > docs/asyncapi.json``
"""

import json
from typing import Any

from shared.events.catalog import EVENT_TYPES
from shared.events.envelope import Envelope
from shared.events.topics import Topic


def asyncapi_document() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": Envelope.model_json_schema()}
    channels: dict[str, Any] = {
        topic.name.lower(): {"address": topic.value, "messages": {}} for topic in Topic
    }
    operations: dict[str, Any] = {}
    for event in EVENT_TYPES.values():
        key = event.name.removeprefix("collections.")
        schema = event.model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[event.model.__name__] = schema
        messages[key] = {
            "name": event.name,
            "summary": event.summary,
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {"content-type": {"type": "string"}}},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event.name},
                            "schemaversion": {"const": event.version},
                            "data": {"$ref": f"#/components/schemas/{event.model.__name__}"},
                        },
                    },
                ]
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "<tenant>/<subject>"}}},
        }
        channel = event.topic.name.lower()
        channels[channel]["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        operations[f"publish-{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Delegated collections events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 (structured mode) on Kafka, keyed by "
            "`<tenant>/<subject>` (lender and loan id). "
            "Dead letters go to <topic>.<consumer group>.dlq.",
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


if __name__ == "__main__":
    print(json.dumps(asyncapi_document(), indent=2, ensure_ascii=False))
