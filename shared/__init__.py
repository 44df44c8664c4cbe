"""Code every service shares: event contracts, the Kafka/database kit, auth and privacy helpers."""
