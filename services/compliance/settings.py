from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ComplianceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLIANCE_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/compliance"
    http_port: int = 8004
