"""A real SMTP server (aiosmtpd) in the caller's event loop: STARTTLS offered with a
self-signed certificate (made with ``cryptography``), AUTH required when a user is configured
(only over TLS), every accepted message kept in the journal, one entry per recipient, with
its attachments."""

import asyncio
import base64
import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .config import EmulatorConfig
from .journal import Faults, Journal


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """``cert.pem`` and ``key.pem`` for localhost and 127.0.0.1 (made once, then reused)."""
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class JournalHandler:
    def __init__(self, journal: Journal, faults: Faults) -> None:
        self._journal = journal
        self._faults = faults

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local, _, domain = address.rpartition("@")
        if not local or "." not in domain:
            return "553 5.1.3 Recipient address is not a valid mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        fault = self._faults.take("smtp")
        if fault is not None:
            await fault.before_handling()
            if fault.status is not None:
                enhanced = "4.3.0" if fault.status < 500 else "5.3.0"
                return f"{fault.status} {enhanced} injected fault"
        self._accept(envelope)
        if fault is not None:
            await fault.after_handling()
        return "250 2.0.0 Message accepted for delivery"

    def _accept(self, envelope: Envelope) -> None:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        mail = message_from_bytes(data, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        part = mail.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if isinstance(part, EmailMessage) else ""
        body = text.replace("\r\n", "\n")  # the wire has CRLF line ends
        attachments = [
            {
                "filename": attached.get_filename(),
                "content_type": attached.get_content_type(),
                "size": len(content),
                "data_base64": base64.b64encode(content).decode("ascii"),
            }
            for attached in mail.iter_attachments()
            if isinstance(content := attached.get_payload(decode=True), bytes)
        ]
        for recipient in envelope.rcpt_tos:
            self._journal.record(
                channel="email",
                to=recipient,
                subject=str(mail.get("Subject", "")),
                body=body,
                provider="smtp",
                provider_message_id=str(mail.get("Message-ID", "")),
                client_reference=str(mail.get("Message-ID", "")),
                list_unsubscribe=str(mail.get("List-Unsubscribe", "")),
                list_unsubscribe_post=str(mail.get("List-Unsubscribe-Post", "")),
                attachments=attachments,
            )


class Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._username, self._password = username, password

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self._username.encode()
            and data.password == self._password.encode()
        )
        return AuthResult(success=ok, handled=False)


async def start_smtp_server(
    config: EmulatorConfig, journal: Journal, faults: Faults, cert_dir: Path
) -> tuple[asyncio.Server, Path]:
    """The listening server and the certificate clients should trust."""
    cert_path, key_path = self_signed_certificate(cert_dir)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path, key_path)
    handler = JournalHandler(journal, faults)
    auth = bool(config.smtp_username)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="localhost",
            ident="local-providers ESMTP",
            tls_context=tls,
            require_starttls=False,
            auth_required=auth,
            auth_require_tls=True,
            authenticator=Authenticator(config.smtp_username, config.smtp_password)
            if auth
            else None,
        )

    server = await asyncio.get_running_loop().create_server(protocol, config.host, config.smtp_port)
    return server, cert_path
