"""The Kafka kit: idempotent producer, outbox relay, consumer runner, topic administration."""
