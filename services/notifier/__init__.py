"""Notifier: reminds borrowers of overdue loans under the contact rules."""
