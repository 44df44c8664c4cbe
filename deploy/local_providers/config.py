"""What the emulators accept and where they post callbacks. The defaults are the notifier's
own defaults (its ProviderSettings), so ``make run`` needs no configuration."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

NOTIFIER_RECEIPTS = "http://127.0.0.1:8002/v1/receipts"


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    http_port: int = 8010  # 0: any free port (tests)
    smtp_port: int = 8025  # 0: any free port (tests)
    state_dir: Path | None = None  # messages.jsonl and the SMTP server's certificate

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "local-twilio-auth-token"  # noqa: S105 (a demo value, not a secret)
    twilio_numbers: tuple[str, ...] = ("+15005550006",)  # the account's own numbers
    twilio_inbound_url: str = f"{NOTIFIER_RECEIPTS}/twilio"  # the number's "message comes in"

    aliyun_access_keys: Mapping[str, str] = field(
        default_factory=lambda: {"LTAI-local-demo": "local-aliyun-access-key-secret"}
    )
    aliyun_sign_names: tuple[str, ...] = ("本地演示",)
    aliyun_templates: Mapping[str, str] = field(
        default_factory=lambda: {"SMS_000000001": "${content}"}
    )
    aliyun_push_url: str = f"{NOTIFIER_RECEIPTS}/aliyun?token=local-aliyun-callback-token"

    smtp_username: str = ""  # set: AUTH (over TLS) is required
    smtp_password: str = ""

    callback_delay_seconds: float = 0.5  # before a status callback, as a carrier takes time
    callback_attempts: int = 3
    callback_retry_seconds: float = 1.0
