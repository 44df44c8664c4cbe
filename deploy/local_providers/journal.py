"""What the emulators received (in memory, and appended to a JSONL file when given), and the
faults they were told to answer with."""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class ReceivedMessage:
    channel: str  # "sms" | "email"
    to: str
    subject: str | None
    body: str
    provider: str  # "twilio" | "aliyun" | "smtp"
    provider_message_id: str
    received_at: str  # ISO 8601, UTC
    reference: str | None = None  # the sender's own id of the message (Alibaba's OutId)


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self._messages: list[ReceivedMessage] = []
        self._path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():  # what earlier runs received stays readable
                lines = path.read_text(encoding="utf-8").splitlines()
                self._messages = [ReceivedMessage(**json.loads(line)) for line in lines if line]

    def record(
        self,
        *,
        channel: str,
        to: str,
        subject: str | None,
        body: str,
        provider: str,
        provider_message_id: str,
        reference: str | None = None,
    ) -> ReceivedMessage:
        message = ReceivedMessage(
            channel,
            to,
            subject,
            body,
            provider,
            provider_message_id,
            datetime.now(UTC).isoformat(),
            reference,
        )
        self._messages.append(message)
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")
        return message

    def messages(self, to: str | None = None) -> list[ReceivedMessage]:
        return [m for m in self._messages if to is None or m.to == to]


@dataclass
class Fault:
    status: int
    remaining: int
    code: str | None = None


class Faults:
    """``POST /v1/faults``: the next ``count`` requests to a provider fail with ``status``."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}

    def set(self, provider: str, fault: Fault) -> None:
        self._faults[provider] = fault

    def take(self, provider: str) -> Fault | None:
        fault = self._faults.get(provider)
        if fault is None or fault.remaining <= 0:
            return None
        fault.remaining -= 1
        return fault
