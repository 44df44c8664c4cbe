"""An idempotent producer (``acks=all``), batching a little for throughput."""

from aiokafka import AIOKafkaProducer

from shared.kafka.connection import KafkaTarget, client_options

REQUEST_TIMEOUT_MS = 15_000


def create_producer(kafka: KafkaTarget, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(kafka),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
