"""What every provider adapter takes, returns and raises (the values are the sender's port's,
``application/ports.py``)."""

from datetime import datetime
from typing import Protocol

from services.notifier.application.ports import OutgoingMessage, ProviderError, SendReceipt
from shared.vocabulary import Channel

__all__ = ["OutgoingMessage", "Provider", "ProviderError", "SendReceipt"]


class Provider(Protocol):
    name: str
    channel: Channel

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...

    async def find(self, message: OutgoingMessage, since: datetime) -> SendReceipt | None:
        """The message if the provider accepted it since ``since``; None if the provider shows
        it did not; ProviderError if the provider cannot tell (or offers no way to ask)."""
        ...

    async def aclose(self) -> None: ...
