"""HTTP kit: problem+json errors, health endpoints."""
