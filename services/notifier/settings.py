from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.notifier.adapters.providers.settings import ProviderSettings
from shared.settings import BorrowerLinkSettings, DataKeySettings, ServiceSettings

HERE = Path(__file__).parent


class NotifierSettings(ServiceSettings, DataKeySettings, ProviderSettings, BorrowerLinkSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:54329/notifier"
    http_port: int = 8002
    transit_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Key ring that opens the contact details sealed inside events.",
    )
    policies_dir: Path = Field(
        default=HERE / "policies", description="Folder of cadence policy files (TOML)."
    )
    templates_dir: Path = Field(
        default=HERE / "templates", description="Folder of message templates (Jinja2)."
    )
    sender: bool = Field(
        default=True, description="Send due reminders from this process (off: an API replica)."
    )
    sender_batch_size: int = Field(default=200, ge=1, le=5000)
    sender_loops: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Batches in flight at once in this process: while one batch is recorded, "
        "the next is being sent (claims never overlap: SKIP LOCKED).",
    )
    sender_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed reminder is held by its sender. A sender that dies "
        "leaves it claimable again after this; providers' reports that arrive first settle it. "
        "A send with no answer waits this long for the provider's report before the provider "
        "is asked.",
    )
    contact_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="A borrower's contact details are erased this long after their loan was "
        "closed or cured (0: at the next pass).",
    )
    retention_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often contact details due to go are erased."
    )
    sender_unconfirmed_after_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A send with no answer from a provider that cannot be asked (SMTP) is "
        "counted as sent after this, and never repeated.",
    )
