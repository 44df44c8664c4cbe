"""Compliance's use cases: appending and judging a consumed batch, and the auditors' reads."""
