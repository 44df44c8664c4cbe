"""What every provider adapter takes, returns and raises."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.vocabulary import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    """One reminder to send: ``to`` is E.164 for SMS, an e-mail address for e-mail."""

    channel: Channel
    to: str
    subject: str | None
    body: str
    idempotency_key: str
    sender_name: str | None = None


@dataclass(frozen=True)
class SendReceipt:
    """The provider accepted the message; ``provider_message_id`` names it in its receipts."""

    provider: str
    provider_message_id: str
    accepted_at: datetime


class ProviderError(Exception):
    """A provider did not accept a message, or could not say. ``reason`` never holds personal
    data (no number, no address, no text): it is logged and stored.

    ``ambiguous``: the request may have reached the provider and the message may have gone out
    (a read timeout, a connection dropped before the answer). Such a send is never retried
    blindly, nor handed to another provider: the provider is asked first (``find``).
    """

    def __init__(
        self, reason: str, *, retriable: bool, provider: str = "", ambiguous: bool = False
    ) -> None:
        super().__init__(f"{provider}: {reason}" if provider else reason)
        self.reason = reason
        self.retriable = retriable and not ambiguous
        self.provider = provider
        self.ambiguous = ambiguous


class Provider(Protocol):
    name: str
    channel: Channel

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...

    async def find(self, message: OutgoingMessage, since: datetime) -> SendReceipt | None:
        """The message if the provider accepted it since ``since``; None if the provider shows
        it did not; ProviderError if the provider cannot tell (or offers no way to ask)."""
        ...

    async def aclose(self) -> None: ...
