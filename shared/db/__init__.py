"""The database kit: engine and sessions, kit tables (outbox, inbox, API keys), migrations."""
