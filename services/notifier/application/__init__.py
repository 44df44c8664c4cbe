"""Notifier's use cases: one handler per event, send and receipt, over the ports."""
