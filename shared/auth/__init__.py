"""API-key authentication with roles, from one credential registry; keys are stored hashed."""

from shared.auth.dependencies import Authenticator, RoleGate, role_required
from shared.auth.keys import ALL_LENDERS, ApiKeyStore, IssuedKey, Principal, Role

__all__ = [
    "ALL_LENDERS",
    "ApiKeyStore",
    "Authenticator",
    "IssuedKey",
    "Principal",
    "Role",
    "RoleGate",
    "role_required",
]
