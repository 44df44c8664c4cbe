"""API-key authentication with roles; keys are stored hashed, never in plaintext."""

from shared.auth.dependencies import Authenticator, role_required
from shared.auth.keys import ApiKeyStore, IssuedKey, Principal, Role

__all__ = ["ApiKeyStore", "Authenticator", "IssuedKey", "Principal", "Role", "role_required"]
