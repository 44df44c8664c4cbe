from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ComplianceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLIANCE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/compliance"
    http_port: int = 8004
    log_signing_key: SecretStr = Field(
        default=SecretStr(""),
        description="The audit log's Ed25519 checkpoint key, as golang.org/x/mod/sumdb/note "
        "writes one: PRIVATE+KEY+<origin>+<hex key id>+<base64 key>. Its name is the "
        "checkpoints' origin line. Required.",
    )
