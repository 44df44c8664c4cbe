"""Notifier domain: pure code, no I/O."""
