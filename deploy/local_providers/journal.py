"""What the emulators received (in memory, and appended to a JSONL file when given), and the
faults they were told to answer with."""

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReceivedMessage:
    channel: str  # "sms" | "email"
    to: str
    subject: str | None
    body: str
    provider: str  # "twilio" | "aliyun" | "smtp"
    provider_message_id: str
    received_at: str  # ISO 8601, UTC
    # The sender's own key for the message, as it sent it (Twilio: the I-Twilio-Idempotency-Token
    # header, Alibaba: OutId, SMTP: Message-ID): tells which of the sender's messages arrived
    # twice. None when the request carried none (and in files written before it was kept).
    client_reference: str | None = None
    # E-mail: the List-Unsubscribe and List-Unsubscribe-Post headers as received (RFC 8058),
    # so a test can follow the one-click link. None when absent (and in older files).
    list_unsubscribe: str | None = None
    list_unsubscribe_post: str | None = None
    # E-mail: each attachment received, {"filename", "content_type", "size", "data_base64"},
    # so a test can open it (a demand letter's PDF). None when there were none.
    attachments: list[dict[str, Any]] | None = None


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
        client_reference: str | None = None,
        list_unsubscribe: str | None = None,
        list_unsubscribe_post: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> ReceivedMessage:
        message = ReceivedMessage(
            channel,
            to,
            subject,
            body,
            provider,
            provider_message_id,
            datetime.now(UTC).isoformat(),
            client_reference or None,
            list_unsubscribe or None,
            list_unsubscribe_post or None,
            attachments or None,
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
    """What the next requests to a provider get instead of (or on top of) a normal answer.

    ``status`` set: an error answer with that status, after ``delay_seconds``. ``status`` None:
    the request is handled normally, ``delay_seconds`` late; with ``after_accept`` the message
    is accepted (journalled, callbacks scheduled) first and only the answer is late, so a client
    whose timeout is shorter gives up on a message that did go out (an ambiguous timeout).
    The fault applies to the next ``remaining`` requests, or, with ``until`` (a monotonic
    deadline), to every request until then.
    """

    status: int | None
    remaining: int
    code: str | None = None
    delay_seconds: float = 0.0
    after_accept: bool = False
    until: float | None = None
    applied: int = 0

    def active(self) -> bool:
        if self.until is not None:
            return time.monotonic() < self.until
        return self.remaining > 0

    async def before_handling(self) -> None:
        """The delay of a late or failing answer (none for an accepted-then-late one)."""
        if self.delay_seconds and not self.after_accept:
            await asyncio.sleep(self.delay_seconds)

    async def after_handling(self) -> None:
        """The delay of an answer that comes after the message was accepted."""
        if self.delay_seconds and self.after_accept:
            await asyncio.sleep(self.delay_seconds)

    def report(self) -> dict[str, Any]:
        left = max(0.0, self.until - time.monotonic()) if self.until is not None else None
        return {
            "status": self.status,
            "code": self.code,
            "remaining": self.remaining if self.until is None else None,
            "seconds_left": left,
            "delay_seconds": self.delay_seconds,
            "after_accept": self.after_accept,
            "applied": self.applied,
        }


class Faults:
    """``POST /v1/faults``: what the next requests to a provider get (see :class:`Fault`)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}

    def set(self, provider: str, fault: Fault) -> None:
        self._faults[provider] = fault

    def clear(self) -> None:
        self._faults.clear()

    def take(self, provider: str) -> Fault | None:
        """The fault this request gets, counted; None: a normal answer."""
        fault = self._faults.get(provider)
        if fault is None or not fault.active():
            return None
        if fault.until is None:
            fault.remaining -= 1
        fault.applied += 1
        return fault

    def report(self) -> dict[str, dict[str, Any]]:
        return {provider: fault.report() for provider, fault in self._faults.items()}
