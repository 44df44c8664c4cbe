from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/notifier"
    http_port: int = 8002
    transit_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring that opens the contact details sealed inside events.",
    )
