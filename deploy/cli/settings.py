"""The operator's own settings, from ``COLLECTIONS_*`` (pydantic-settings, like the services').

The ``collections`` command is a Kafka client and an HTTP client of its own: the credential
registry and the dead letters are reached with ``COLLECTIONS_KAFKA_*`` (the same fields, TLS and
SASL checks as every service's :class:`~shared.kafka.settings.KafkaSettings`) and
``COLLECTIONS_TOPIC_NAMESPACE``; the gateway's operator API and compliance's auditor API with
``COLLECTIONS_GATEWAY_URL``, ``COLLECTIONS_COMPLIANCE_URL`` and ``COLLECTIONS_API_KEY``. What
belongs to one service (its database, its data keys) is read from that service's own settings
class (``INTAKE_DATABASE_URL``, ``NOTIFIER_DATA_KEYS`` ...), as the service itself reads it.
"""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.kafka.settings import KafkaSettings


class OperatorSettings(KafkaSettings):
    """Where the operator's command finds Kafka, the topics and the services' HTTP APIs."""

    model_config = SettingsConfigDict(env_prefix="COLLECTIONS_", extra="ignore")

    topic_namespace: str = Field(
        default="", description="The services' <SERVICE>_TOPIC_NAMESPACE: the topics' prefix."
    )
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replicas of the credential registry if it is created here."
    )
    topic_min_insync_replicas: int = Field(default=1, ge=1)
    gateway_url: str = Field(
        default="http://127.0.0.1:8003", description="The agency gateway, for `agencies`."
    )
    compliance_url: str = Field(
        default="http://127.0.0.1:8004", description="Compliance, for `audit verify`."
    )
    api_key: SecretStr = Field(
        default=SecretStr(""),
        description="The API key the HTTP commands present: an operator's for `agencies`, an "
        "auditor's for `audit verify` (each command also takes --api-key).",
    )
