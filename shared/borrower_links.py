"""The link in every message to the borrower's own page: ``<base URL>/b/<token>``.

The notifier mints a token for each message; intake's borrower site opens it. The token is
opaque (AES-GCM: nothing in it can be read without the link keys, and no change to it goes
unnoticed), scoped to one lender, loan and borrower, expires, and carries no personal data:
ids, the borrower's pseudonym, when it was issued and until when it is good. Revocation is
intake's: it refuses tokens of a loan issued before a revocation (see ``issued_at``).

Tokens are bearer credentials: never log one (``redacted`` is what a log may show).
"""

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.crypto import DecryptionError, KeyRing, SealedValue

LINK_VERSION = "b1"
_PURPOSE = b"collections.borrower-link.v1"


class InvalidLinkError(ValueError):
    """Tampered, made with an unknown key, malformed or expired: the page says nothing more."""


class ExpiredLinkError(InvalidLinkError):
    """A genuine token whose time is over (a 410 rather than a 404)."""


@dataclass(frozen=True)
class LinkClaims:
    lender_id: str
    loan_id: str
    borrower_ref: str
    link_id: str  # random, unique per token: lets a token be told apart (and revoked alone)
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class BorrowerLinks:
    """Mints and opens borrower link tokens with one key ring (``kid:base64key,...``)."""

    keys: KeyRing
    lifetime: timedelta = timedelta(days=30)

    def mint(
        self, lender_id: str, loan_id: str, borrower_ref: str, *, now: datetime | None = None
    ) -> str:
        issued = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = [
            lender_id,
            loan_id,
            borrower_ref,
            secrets.token_urlsafe(9),
            int(issued.timestamp()),
            int((issued + self.lifetime).timestamp()),
        ]
        sealed = self.keys.seal(json.dumps(claims, separators=(",", ":")).encode(), _PURPOSE)
        return f"{LINK_VERSION}.{sealed.kid}.{_encoded(base64.b64decode(sealed.ct))}"

    def open(self, token: str, *, now: datetime | None = None) -> LinkClaims:
        """The token's claims; :class:`InvalidLinkError` if it is not one of ours or has expired."""
        prefix, _, rest = token.partition(".")
        kid, _, body = rest.partition(".")
        if prefix != LINK_VERSION or not kid or not body or len(token) > 512:
            raise InvalidLinkError("not a borrower link")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if _encoded(raw) != body:  # the last character's spare bits changed: not ours
                raise InvalidLinkError("not a borrower link")
            sealed = SealedValue(kid=kid, ct=base64.b64encode(raw).decode())
            lender, loan, borrower, link_id, issued, expires = json.loads(
                self.keys.open(sealed, _PURPOSE)
            )
            claims = LinkClaims(
                lender_id=str(lender),
                loan_id=str(loan),
                borrower_ref=str(borrower),
                link_id=str(link_id),
                issued_at=datetime.fromtimestamp(int(issued), UTC),
                expires_at=datetime.fromtimestamp(int(expires), UTC),
            )
        except (DecryptionError, binascii.Error, ValueError, TypeError) as error:
            raise InvalidLinkError("not a borrower link") from error
        if claims.expires_at <= (now or datetime.now(UTC)):
            raise ExpiredLinkError("expired")
        return claims

    def url(self, base_url: str, token: str) -> str:
        return f"{base_url.rstrip('/')}/b/{token}"


def _encoded(raw: bytes) -> str:
    """The one text of ``raw`` in a token: base64url without padding. Decoding alone would
    take other texts too (a final character differing only in bits the decoder drops)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def redacted(token: str) -> str:
    """What a log may say of a token: its prefix and key id, never the sealed part."""
    prefix, _, rest = token.partition(".")
    return f"{prefix}.{rest.partition('.')[0]}.…"
