"""Field-level encryption (AES-GCM with key ids for rotation) and borrower pseudonyms."""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, SecretStr

NONCE_BYTES = 12


class SealedValue(BaseModel):
    """A ciphertext that names the key that made it: ``kid`` and base64 ``nonce || ciphertext``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kid: str
    ct: str


class DecryptionError(ValueError):
    """The value was not made by a key of this ring, or was tampered with."""


@dataclass(frozen=True)
class KeyRing:
    """AES-256-GCM keys by id; the first one encrypts, all of them decrypt."""

    keys: dict[str, bytes]
    primary: str

    @classmethod
    def parse(cls, spec: str) -> "KeyRing":
        """Read ``kid:base64key[,kid:base64key...]``."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kid, _, encoded = item.partition(":")
            key = base64.b64decode(encoded)
            if not kid or len(key) != 32:
                raise ValueError("each data key must be 'kid:<base64 of 32 bytes>'")
            keys[kid] = key
        if not keys:
            raise ValueError("the key ring is empty")
        return cls(keys=keys, primary=next(iter(keys)))

    @classmethod
    def from_secret(cls, spec: SecretStr) -> "KeyRing":
        """The ring a settings field holds (``kid:base64key,...``)."""
        return cls.parse(spec.get_secret_value())

    @staticmethod
    def generate_spec(kid: str) -> str:
        return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"

    @cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        """One cipher object per key, made once (making one costs more than a seal)."""
        return {kid: AESGCM(key) for kid, key in self.keys.items()}

    def seal(self, plaintext: bytes, associated_data: bytes = b"") -> SealedValue:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._ciphers[self.primary].encrypt(nonce, plaintext, associated_data)
        return SealedValue(kid=self.primary, ct=base64.b64encode(nonce + ciphertext).decode())

    def keyed_hash(self, data: bytes, purpose: bytes, kid: str | None = None) -> str:
        """``<kid>:<hex HMAC-SHA256>`` of ``data`` under a key derived (HKDF) for ``purpose``
        from the current key (or ``kid``'s): it ties a record to a value without holding it,
        and no one without the ring can test a guess against it."""
        kid = kid or self.primary
        key = HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(self.keys[kid])
        return f"{kid}:{hmac.new(key, data, hashlib.sha256).hexdigest()}"

    def open(self, sealed: SealedValue, associated_data: bytes = b"") -> bytes:
        cipher = self._ciphers.get(sealed.kid)
        if cipher is None:
            raise DecryptionError(f"unknown key id {sealed.kid!r}")
        raw = base64.b64decode(sealed.ct)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except InvalidTag as error:
            raise DecryptionError("ciphertext failed authentication") from error


@dataclass(frozen=True)
class Pseudonymizer:
    """Keyed hash that turns a borrower id into a stable reference that reveals nothing."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: SecretStr) -> "Pseudonymizer":
        key = secret.get_secret_value().encode()
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 characters")
        return cls(key)

    def reference(self, lender_id: str, borrower_id: str) -> str:
        digest = hmac.new(self.key, f"{lender_id}\x1f{borrower_id}".encode(), hashlib.sha256)
        return "bref_" + digest.hexdigest()[:32]


_SEALED_FIELDS = SealedValue.model_fields.keys()


def without_sealed_values(value: Any) -> Any:
    """A copy of a JSON-like value with every sealed value dropped (for logs, history, audit)."""
    if type(value) is dict:
        return {
            k: without_sealed_values(v)
            for k, v in value.items()
            if not (type(v) is dict and v.keys() == _SEALED_FIELDS)
        }
    if type(value) is list:
        return [without_sealed_values(item) for item in value]
    return value
