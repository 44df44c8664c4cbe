"""Compliance's HTTP entry points, for auditors (read-only)."""
