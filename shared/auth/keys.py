"""Issuing, verifying and revoking API keys.

A key reads ``dc_<key id>_<secret>``. Only a SHA-256 of the secret is stored: the secret is 32
random bytes, so a slow password hash would add latency and no safety.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.db.engine import SessionFactory, transaction
from shared.db.kit_tables import api_keys

REVOCATIONS_CHANNEL = "api_key_revoked"  # NOTIFY payload: the key id

PREFIX = "dc"


class Role(StrEnum):
    LENDER = "lender"
    AGENCY = "agency"
    AUDITOR = "auditor"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role and the id of the lender, agency, auditor or operator."""

    role: Role
    subject: str
    key_id: str


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str
    role: Role
    principal_id: str


@dataclass(frozen=True)
class KeyListing:
    key_id: str
    role: Role
    principal_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def new_api_key() -> tuple[str, str]:
    """A fresh (key id, full key)."""
    key_id = secrets.token_hex(8)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def split_api_key(api_key: str) -> tuple[str, str] | None:
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    return key_id, secret


def hash_secret(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


class ApiKeyStore:
    """The ``api_keys`` table of one service's database."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def issue(
        self, role: Role, principal_id: str, label: str = "", api_key: str | None = None
    ) -> IssuedKey:
        """Store a new key (or a given one, to provision the same key in several services)."""
        if api_key is None:
            key_id, api_key = new_api_key()
        else:
            parts = split_api_key(api_key)
            if parts is None:
                raise ValueError("not an API key of this platform")
            key_id = parts[0]
        async with transaction(self._sessions) as session:
            await session.execute(
                pg_insert(api_keys)
                .values(
                    key_id=key_id,
                    secret_hash=hash_secret(api_key),
                    role=role.value,
                    principal_id=principal_id,
                    label=label,
                )
                .on_conflict_do_nothing()
            )
        return IssuedKey(key_id=key_id, api_key=api_key, role=role, principal_id=principal_id)

    async def verify(self, api_key: str) -> Principal | None:
        parts = split_api_key(api_key)
        if parts is None:
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(api_keys.c.secret_hash, api_keys.c.role, api_keys.c.principal_id).where(
                        api_keys.c.key_id == parts[0], api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(api_key)):
            return None
        return Principal(role=Role(row.role), subject=row.principal_id, key_id=parts[0])

    async def revoke(self, key_id: str) -> bool:
        async with transaction(self._sessions) as session:
            result = await session.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            revoked = bool(result.rowcount)  # type: ignore[attr-defined]
            if revoked:
                await session.execute(select(func.pg_notify(REVOCATIONS_CHANNEL, key_id)))
        return revoked

    async def list(self, role: Role | None = None) -> list[KeyListing]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if role is not None:
            query = query.where(api_keys.c.role == role.value)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            KeyListing(
                key_id=row.key_id,
                role=Role(row.role),
                principal_id=row.principal_id,
                label=row.label,
                created_at=row.created_at,
                revoked_at=row.revoked_at,
            )
            for row in rows
        ]
