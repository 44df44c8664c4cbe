"""API keys: their format, their hash, and each service's mirror of the credential registry.

A key reads ``dc_<key id>_<secret>``. Only a SHA-256 of the whole key is stored anywhere (the
registry topic, each service's ``api_keys`` table): the secret is 32 random bytes, so a slow
password hash would add latency and no safety.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.db.engine import SessionFactory, transaction
from shared.db.kit_tables import api_keys

PREFIX = "dc"
ALL_LENDERS = "*"  # the tenant of an auditor who may see every lender's loans


class Role(StrEnum):
    LENDER = "lender"
    AGENCY = "agency"
    AUDITOR = "auditor"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role and its tenant (the lender id, the agency id, the lender an
    auditor may see or ``*`` for all, the operator's name)."""

    role: Role
    tenant: str
    key_id: str

    def sees_lender(self, lender_id: str) -> bool:
        """Whether an auditor's scope covers this lender's loans."""
        return self.tenant in (ALL_LENDERS, lender_id)


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    api_key: str
    role: Role
    tenant: str


@dataclass(frozen=True)
class MirroredKey:
    """One registry entry as a service's ``api_keys`` table holds it."""

    key_id: str
    secret_hash: bytes
    role: Role
    tenant: str
    label: str
    issued_at: datetime
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
    """A service's ``api_keys`` table: its copy of the credential registry, kept current by
    :class:`shared.auth.feed.CredentialFeed`, so keys verify while Kafka is away."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def mirror(self, keys: Sequence[MirroredKey]) -> None:
        """Upsert registry entries. A revocation is final: a key revoked here stays revoked
        whatever record comes after; role, tenant and hash never change for a key id."""
        latest: dict[str, MirroredKey] = {}
        for key in keys:  # one row per key id in a statement; a revocation is never undone
            earlier = latest.get(key.key_id)
            if earlier is not None and earlier.revoked_at is not None:
                key = replace(key, revoked_at=earlier.revoked_at)
            latest[key.key_id] = key
        if not latest:
            return
        statement = pg_insert(api_keys).values(
            [
                {
                    "key_id": key.key_id,
                    "secret_hash": key.secret_hash,
                    "role": key.role.value,
                    "tenant": key.tenant,
                    "label": key.label,
                    "issued_at": key.issued_at,
                    "revoked_at": key.revoked_at,
                }
                for key in latest.values()
            ]
        )
        statement = statement.on_conflict_do_update(
            index_elements=[api_keys.c.key_id],
            set_={
                "label": statement.excluded.label,
                "revoked_at": func.coalesce(api_keys.c.revoked_at, statement.excluded.revoked_at),
            },
        )
        async with transaction(self._sessions) as session:
            await session.execute(statement)

    async def verify(self, api_key: str) -> Principal | None:
        parts = split_api_key(api_key)
        if parts is None:
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(api_keys.c.secret_hash, api_keys.c.role, api_keys.c.tenant).where(
                        api_keys.c.key_id == parts[0], api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(api_key)):
            return None
        return Principal(role=Role(row.role), tenant=row.tenant, key_id=parts[0])
