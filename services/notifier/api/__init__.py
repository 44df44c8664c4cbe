"""Notifier's HTTP entry points."""
