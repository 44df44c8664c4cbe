"""E-mail over SMTP (aiosmtplib): plain, STARTTLS required, or implicit TLS; AUTH when a user
is configured. The Message-ID is derived from the reminder's idempotency key, so a resend of
the same reminder carries the same Message-ID and a mail system can recognise it. Every e-mail
carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058 one-click) pointing at
the borrower's page, which opts the borrower out of e-mail at this lender. A message's
attachments (the demand letter's PDF) go as MIME parts with their filename and type."""

import re
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal

import aiosmtplib

from shared.vocabulary import Channel

from .base import OutgoingMessage, ProviderError, SendReceipt

Security = Literal["none", "starttls", "tls"]


def message_id(idempotency_key: str, from_address: str) -> str:
    local = re.sub(r"[^A-Za-z0-9.\-_+]", "-", idempotency_key)
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{local}@{domain}>"


class SmtpEmail:
    name = "smtp"
    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_address: str,
        security: Security = "starttls",
        username: str = "",
        password: str = "",
        ca_file: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._host, self._port = host, port
        self._from_address = from_address
        self._security = security
        self._username, self._password = username, password
        self._tls_context = ssl.create_default_context(cafile=ca_file or None)
        self._timeout = timeout_seconds

    def mime(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((message.sender_name or "", self._from_address))
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id(message.idempotency_key, self._from_address)
        if message.unsubscribe_url:  # RFC 8058: the mail program's one-click opt-out
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body, charset="utf-8")
        for attachment in message.attachments:  # the demand letter's PDF
            main, _, sub = attachment.content_type.partition("/")
            mail.add_attachment(
                attachment.data, maintype=main, subtype=sub, filename=attachment.filename
            )
        return mail

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        mail = self.mime(message)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self._host,
                port=self._port,
                username=self._username or None,
                password=self._password or None,
                use_tls=self._security == "tls",
                start_tls=self._security == "starttls",
                tls_context=self._tls_context if self._security != "none" else None,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = sorted({response.code for response in error.recipients})
            retriable = all(400 <= code < 500 for code in codes)
            raise ProviderError(
                f"recipient refused {codes}", retriable=retriable, provider=self.name
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            retriable = 400 <= error.code < 500
            raise ProviderError(
                f"SMTP {error.code}", retriable=retriable, provider=self.name
            ) from error
        except (aiosmtplib.SMTPConnectError, ssl.SSLError) as error:  # before any mail was sent
            reason = f"SMTP not reached ({type(error).__name__})"
            raise ProviderError(reason, retriable=True, provider=self.name) from error
        except OSError as error:  # timed out or cut off mid-session: maybe after the DATA
            reason = f"SMTP no answer ({type(error).__name__})"
            raise ProviderError(
                reason, retriable=False, provider=self.name, ambiguous=True
            ) from error
        except aiosmtplib.SMTPException as error:
            reason = f"SMTP failure ({type(error).__name__})"
            raise ProviderError(reason, retriable=True, provider=self.name) from error
        return SendReceipt(self.name, str(mail["Message-ID"]), datetime.now(UTC))

    async def find(self, message: OutgoingMessage, since: datetime) -> SendReceipt | None:
        """SMTP has no way to ask whether a message was accepted."""
        raise ProviderError("SMTP offers no lookup", retriable=False, provider=self.name)

    async def aclose(self) -> None:
        """Nothing held open: one connection per message."""
