"""Intake: takes lender reports of overdue loans and publishes them through the outbox."""
