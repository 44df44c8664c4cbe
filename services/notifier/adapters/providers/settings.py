"""Provider settings (``NOTIFIER_`` prefix). The defaults reach the local provider emulators
that ``make run`` starts (deploy/local_providers) with their demo credentials; a real
deployment sets the providers' URLs and credentials (README.md beside this file)."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_PROVIDERS = "http://127.0.0.1:8010"
LOCAL_RECEIPTS = "http://127.0.0.1:8002/v1/receipts"


PROVIDER_SECRETS = {
    "twilio": ("twilio_auth_token",),
    "aliyun": ("aliyun_access_key_secret", "aliyun_callback_token"),
}
"""Each SMS provider's secrets (signing its requests, authenticating its callbacks)."""


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    sms_providers: str = Field(
        default="twilio,aliyun",
        description="SMS providers in the order tried: twilio, aliyun (comma-separated).",
    )
    retry_attempts: int = Field(default=3, ge=1, description="Tries per provider.")
    retry_initial_seconds: float = Field(default=0.5, ge=0)
    retry_max_seconds: float = Field(default=8.0, ge=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    twilio_base_url: str = Field(
        default=f"{LOCAL_PROVIDERS}/twilio", description="Real: https://api.twilio.com"
    )
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("local-twilio-auth-token")
    twilio_from_number: str = "+15005550006"
    twilio_messaging_service_sid: str = Field(
        default="", description="When set, sent instead of From (a Messaging Service)."
    )
    twilio_status_callback_url: str = Field(
        default=f"{LOCAL_RECEIPTS}/twilio",
        description="Where Twilio posts status callbacks; empty sends none.",
    )
    twilio_rate_per_second: float = Field(default=10.0, gt=0)

    aliyun_endpoint: str = Field(
        default=f"{LOCAL_PROVIDERS}/aliyun/", description="Real: https://dysmsapi.aliyuncs.com/"
    )
    aliyun_access_key_id: str = "LTAI-local-demo"
    aliyun_access_key_secret: SecretStr = SecretStr("local-aliyun-access-key-secret")
    aliyun_region_id: str = "cn-hangzhou"
    aliyun_sign_name: str = "本地演示"
    aliyun_template_code: str = Field(
        default="SMS_000000001",
        description="A registered template whose one variable carries the whole reminder text.",
    )
    aliyun_template_variable: str = "content"
    aliyun_callback_token: SecretStr = Field(
        default=SecretStr("local-aliyun-callback-token"),
        description="The token= query parameter of the receipt URLs set in Alibaba's console.",
    )
    aliyun_rate_per_second: float = Field(default=10.0, gt=0)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="none: plain; starttls: STARTTLS required; tls: implicit TLS (port 465).",
    )
    smtp_ca_file: str = Field(
        default="", description="A PEM file of CAs to trust (e.g. the local server's own cert)."
    )
    smtp_from_address: str = "reminders@lender.example"
    smtp_rate_per_second: float = Field(default=20.0, gt=0)

    def default_secrets_in_use(self) -> list[str]:
        """The settings of configured SMS providers still holding the local emulators' demo
        values, which anyone can read here (``NOTIFIER_ALIYUN_CALLBACK_TOKEN``, ...)."""
        fields = type(self).model_fields
        return [
            f"NOTIFIER_{name.upper()}"
            for provider in self.sms_provider_order()
            for name in PROVIDER_SECRETS[provider]
            if getattr(self, name) == fields[name].default
        ]

    def sms_provider_order(self) -> list[str]:
        names = [name.strip() for name in self.sms_providers.split(",") if name.strip()]
        unknown = sorted(set(names) - {"twilio", "aliyun"})
        if unknown or not names:
            raise ValueError(f"NOTIFIER_SMS_PROVIDERS: unknown or none: {unknown}")
        return names
