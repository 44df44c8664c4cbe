"""Sends a message over one channel: per-provider rate limit (aiolimiter), retries with
exponential backoff on retriable errors (tenacity), then failover to the next provider.

A send whose outcome is unknown (``ProviderError.ambiguous``) is neither retried nor handed to
the next provider: it may have gone out, and only the provider can say (``find``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from shared.observability.metrics import provider_send
from shared.observability.tracing import continuing
from shared.vocabulary import Channel

from .aliyun import AliyunSms
from .base import OutgoingMessage, Provider, ProviderError, SendReceipt
from .settings import ProviderSettings
from .smtp import SmtpEmail
from .twilio import TwilioSms

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_seconds: float = 0.5
    max_seconds: float = 8.0


@dataclass(frozen=True)
class RateLimitedProvider:
    provider: Provider
    limiter: AsyncLimiter


def per_second(rate: float) -> AsyncLimiter:
    """A leaky bucket letting ``rate`` messages a second through (bursts up to ``rate``)."""
    return AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1.0 / rate)


def _retriable(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retriable


def failure_kind(error: Exception) -> str:
    """A failed send as a metric label: ambiguous (it may have gone out), retriable,
    refused, or unexpected (not a provider's error)."""
    if not isinstance(error, ProviderError):
        return "unexpected"
    if error.ambiguous:
        return "ambiguous"
    return "retriable" if error.retriable else "refused"


class ChannelDispatcher:
    """Tries the providers in order; returns the first receipt, or raises a final
    :class:`ProviderError` (``retriable`` if any provider's last failure was)."""

    def __init__(
        self,
        channel: Channel,
        providers: Sequence[RateLimitedProvider],
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        if not providers:
            raise ValueError(f"no provider for {channel}")
        self.channel = channel
        self.providers = list(providers)
        self._retry = retry

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """One ``send <channel>`` span, continuing the trace of the work that planned the
        message, around every provider's attempts (their HTTP requests are its children)."""
        if message.channel != self.channel:
            raise ValueError(f"a {message.channel} message given to the {self.channel} dispatcher")
        parent = (message.traceparent, message.tracestate) if message.traceparent else None
        attributes = {"notification.id": message.idempotency_key}
        with continuing(parent, f"send {self.channel.value}", attributes) as span:
            receipt = await self._send(message)
            span.set_attribute("notification.provider", receipt.provider)
            return receipt

    async def _send(self, message: OutgoingMessage) -> SendReceipt:
        failures: list[ProviderError] = []
        for entry in self.providers:
            try:
                return await self._send_with_retries(entry, message)
            except ProviderError as error:
                if error.ambiguous:
                    raise
                failures.append(error)
                log.warning(
                    "provider failed",
                    channel=str(self.channel),
                    provider=entry.provider.name,
                    reason=error.reason,
                    retriable=error.retriable,
                )
        reasons = "; ".join(f"{error.provider}: {error.reason}" for error in failures)
        raise ProviderError(
            f"every provider failed ({reasons})",
            retriable=any(error.retriable for error in failures),
        )

    async def find(
        self, message: OutgoingMessage, since: datetime, provider: str | None
    ) -> SendReceipt | None:
        """Whether a send that may have gone out did: asks ``provider`` (or, not knowing which
        one took it, each of the channel's). None only if every provider asked shows it did
        not; a ProviderError if one cannot tell."""
        asked = [e.provider for e in self.providers if provider in (None, e.provider.name)]
        if not asked:
            raise ProviderError("not one of this channel's providers", retriable=False)
        for entry in asked:
            receipt = await entry.find(message, since)
            if receipt is not None:
                return receipt
        return None

    async def _send_with_retries(
        self, entry: RateLimitedProvider, message: OutgoingMessage
    ) -> SendReceipt:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial_seconds,
                jitter=self._retry.initial_seconds,
                max=self._retry.max_seconds,
            ),
            retry=retry_if_exception(_retriable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with entry.limiter:
                    with provider_send(entry.provider.name, self.channel.value, failure_kind):
                        return await entry.provider.send(message)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def aclose(self) -> None:
        for entry in self.providers:
            await entry.provider.aclose()


def twilio_provider(settings: ProviderSettings) -> RateLimitedProvider:
    twilio = TwilioSms(
        base_url=settings.twilio_base_url,
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        status_callback_url=settings.twilio_status_callback_url,
        timeout_seconds=settings.http_timeout_seconds,
    )
    return RateLimitedProvider(twilio, per_second(settings.twilio_rate_per_second))


def aliyun_provider(settings: ProviderSettings) -> RateLimitedProvider:
    aliyun = AliyunSms(
        endpoint=settings.aliyun_endpoint,
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret.get_secret_value(),
        sign_name=settings.aliyun_sign_name,
        template_code=settings.aliyun_template_code,
        template_variable=settings.aliyun_template_variable,
        region_id=settings.aliyun_region_id,
        timeout_seconds=settings.http_timeout_seconds,
    )
    return RateLimitedProvider(aliyun, per_second(settings.aliyun_rate_per_second))


def smtp_provider(settings: ProviderSettings) -> RateLimitedProvider:
    smtp = SmtpEmail(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_address=settings.smtp_from_address,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        ca_file=settings.smtp_ca_file,
        timeout_seconds=settings.http_timeout_seconds,
    )
    return RateLimitedProvider(smtp, per_second(settings.smtp_rate_per_second))


SMS_PROVIDERS = {"twilio": twilio_provider, "aliyun": aliyun_provider}


def build_dispatchers(settings: ProviderSettings) -> dict[Channel, ChannelDispatcher]:
    """One dispatcher per channel the notifier sends on (SMS, e-mail); ``aclose`` each."""
    retry = RetryPolicy(
        settings.retry_attempts, settings.retry_initial_seconds, settings.retry_max_seconds
    )
    sms = [SMS_PROVIDERS[name](settings) for name in settings.sms_provider_order()]
    return {
        Channel.SMS: ChannelDispatcher(Channel.SMS, sms, retry),
        Channel.EMAIL: ChannelDispatcher(Channel.EMAIL, [smtp_provider(settings)], retry),
    }
