from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import BorrowerLinkSettings, ServiceSettings


class IntakeSettings(ServiceSettings, BorrowerLinkSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/intake"
    http_port: int = 8001
    borrower_http_port: int = Field(
        default=8005,
        description="Port of the borrowers' site (their page and /v1/me), a public entry point "
        "of its own: `python -m services.intake borrower`.",
    )
    data_request_due_days: int = Field(
        default=15,
        ge=1,
        le=30,
        description="A borrower's data request is answered within this many days (its due_by).",
    )
    http_workers: int = Field(
        default=1, ge=1, description="uvicorn worker processes, each with its own app."
    )
    idempotency_retention_hours: float = Field(
        default=48.0,
        ge=24,
        description="Idempotency-Key replies are kept this long (at least 24 hours), then "
        "deleted: a retry after that is a new request.",
    )
    max_batch_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest body of POST /v1/overdue-loans/batch (others: max_body_bytes).",
    )
    data_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring sealing personal data at rest 'kid:base64key,...'; the first "
        "one encrypts.",
    )
    transit_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring sealing personal data inside events, held only by entitled services.",
    )
    pseudonym_key: SecretStr = Field(
        default=SecretStr(""), description="Key of the keyed hash that makes borrower pseudonyms."
    )
