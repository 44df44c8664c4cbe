from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import DataKeySettings, ServiceSettings


class AgencyGatewaySettings(ServiceSettings, DataKeySettings):
    """``AGENCY_GATEWAY_DATA_KEYS`` seals the contacts it stores (see ``DataKeySettings``)."""

    model_config = SettingsConfigDict(env_prefix="AGENCY_GATEWAY_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/agency_gateway"
    http_port: int = 8003
    placement_threshold_days: int = 30
    transit_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring that opens the contact details sealed inside events.",
    )
