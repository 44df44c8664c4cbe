from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.agency_gateway.adapters.policy_file import DEFAULT_FILE
from shared.settings import DataKeySettings, ServiceSettings


class AgencyGatewaySettings(ServiceSettings, DataKeySettings):
    """``AGENCY_GATEWAY_DATA_KEYS`` seals the contacts it stores (see ``DataKeySettings``)."""

    model_config = SettingsConfigDict(env_prefix="AGENCY_GATEWAY_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/agency_gateway"
    http_port: int = 8003
    placement_policy_file: Path = Field(
        default=DEFAULT_FILE, description="The placement policy (versioned TOML)."
    )
    placement_batch_size: int = Field(default=200, ge=1, le=10_000)
    placement_in_consumer: bool = Field(
        default=True,
        description="Decide fresh reports in the consumer's unit of work, each case written "
        "once; false: leave them due for the placement worker (claimed, then decided).",
    )
    placement_idle_seconds: float = Field(
        default=0.5, gt=0, description="Pause of the placement worker when nothing is due."
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_initial_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_max_backoff_seconds: float = Field(default=600.0, gt=0)
    webhook_idle_seconds: float = Field(default=0.5, gt=0)
    webhook_log_retention_days: float = Field(
        default=30,
        ge=1,
        description="How long a settled webhook delivery (delivered or failed) and its "
        "attempts stay in the log agencies read; a pending one always stays.",
    )
    contact_retention_days: float = Field(
        default=30,
        ge=0,
        description="How long after a loan was cured, closed or recalled (and no agency holds "
        "it) the borrower's sealed contact details, region and time zone stay; 0: erased at "
        "the retention worker's next pass.",
    )
    contact_retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    contact_retention_idle_seconds: float = Field(
        default=60, gt=0, description="Pause of the retention worker when nothing is due."
    )
    transit_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring that opens the contact details sealed inside events.",
    )
