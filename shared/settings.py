"""Settings common to every service; each service subclasses with its own env prefix."""

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.borrower_links import BorrowerLinks
from shared.crypto import KeyRing
from shared.db.settings import DatabaseTlsSettings
from shared.kafka.settings import KafkaSettings


class ServiceSettings(DatabaseTlsSettings, KafkaSettings):
    """What every service needs to run: its database, Kafka and HTTP (TLS and SASL settings
    in :class:`DatabaseTlsSettings` and :class:`KafkaSettings`).

    Privacy keys are in the settings of the services that hold them, and nowhere else.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="INTAKE_")`` and so on, so one
    environment can hold the settings of several services without collisions.
    """

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/postgres"
    database_pool_size: int = 10
    topic_namespace: str = Field(
        default="",
        description="Prefix added to every topic name, so several platforms can share one broker.",
    )
    topic_partitions: int = 6
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of each topic this service creates (1 suits a single broker; "
        "topics that already exist are left as they are).",
    )
    topic_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        description="The min.insync.replicas of each topic this service creates: with acks=all, "
        "a write needs this many replicas in sync. At most the replication factor.",
    )
    outbox_relay: bool = Field(
        default=True,
        description="Publish the outbox from this process (off: an API-only replica).",
    )
    fault_outbox_hold: Literal["", "before-publish", "after-publish"] = Field(
        default="",
        description="Fault injection, for tests only: the outbox relay logs 'outbox fault hold' "
        "and holds each batch fault_outbox_hold_seconds before publishing it (committed, not "
        "on Kafka) or after (on Kafka, not yet deleted from the outbox), so a test can kill "
        "the process there. Empty (the default): off.",
    )
    fault_outbox_hold_seconds: float = Field(default=30.0, gt=0, le=600)
    outbox_retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="Outbox rows given up (a parked row whose published_at an operator set) "
        "are deleted this long after; the relay deletes the rows it publishes, rows to "
        "publish and parked rows never are.",
    )
    inbox_retention_hours: float = Field(
        default=168.0, gt=0, description="Inbox rows are deleted this long after receipt."
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Pause between two retention passes."
    )
    retention_batch_size: int = Field(
        default=1000, ge=1, description="Rows deleted per statement by a retention pass."
    )
    profile: Literal["local", "production"] = Field(
        default="production",
        description="local: the dev stack and the tests, where the local provider emulators' "
        "demo credentials are fine; production (the default): a start with a secret still at "
        "such a known default value is refused, naming the setting.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request body accepted (413 beyond it, before the body is read).",
    )
    log_level: str = "INFO"
    log_json: bool = True
    otlp_endpoint: str = Field(
        default="",
        description="Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (e.g. "
        "http://otel-collector:4318): spans are exported to <it>/v1/traces. Empty (the "
        "default): traces are made (logs carry trace ids) but exported nowhere.",
    )

    @model_validator(mode="after")
    def _min_insync_fits_the_replicas(self) -> Self:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError("topic_min_insync_replicas exceeds topic_replication_factor")
        return self


class DataKeySettings(BaseSettings):
    """The data key ring of a service that stores personal data: ``<SERVICE>_DATA_KEYS``.

    A service holding one adds this class to its settings' bases; the ring is its own, never
    shared. Rotation: put the new key first, then run the service's reseal command (see
    :mod:`shared.db.reseal`).
    """

    model_config = SettingsConfigDict(extra="ignore")

    data_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring sealing personal data at rest 'kid:base64key,...': the first one "
        "seals, all of them open (old key ids stay readable until re-sealed).",
    )

    def data_key_ring(self) -> KeyRing:
        """The ring (raises ValueError naming the setting when it is unset or malformed)."""
        try:
            return KeyRing.from_secret(self.data_keys)
        except ValueError as error:
            raise ValueError(f"data_keys: {error}") from error


class BorrowerLinkSettings(BaseSettings):
    """What the services that speak to borrowers share: the notifier's messages and intake's
    borrower site. The link keys (``<SERVICE>_LINK_KEYS``) mint and open the borrower links; no
    other service holds them."""

    model_config = SettingsConfigDict(extra="ignore")

    lender_names: dict[str, str] = Field(
        default_factory=lambda: {"lender-demo": "Demo Consumer Finance"},
        description="The name borrowers know each lender by (JSON object), by lender id: "
        "messages are signed with it and the borrower's page shows it.",
    )

    link_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring of the borrower links 'kid:base64key,...': the first one mints, "
        "all of them open.",
    )
    borrower_base_url: str = Field(
        default="http://127.0.0.1:8005",
        description="Where borrowers reach their page: links are <this>/b/<token>.",
    )
    link_lifetime_days: float = Field(
        default=30.0, gt=0, description="A link is good this long after its message was sent."
    )

    def borrower_links(self) -> BorrowerLinks:
        """The minter and opener (raises ValueError naming the setting when unset)."""
        try:
            keys = KeyRing.from_secret(self.link_keys)
        except ValueError as error:
            raise ValueError(f"link_keys: {error}") from error
        return BorrowerLinks(keys, timedelta(days=self.link_lifetime_days))
