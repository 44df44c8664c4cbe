"""Compliance: a tamper-evident audit log of every event, judged against the contact rules."""
