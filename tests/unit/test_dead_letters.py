"""The dead-letter command's arguments and what a replay carries, without Kafka."""

from uuid import UUID, uuid4

import pytest

from shared.kafka.dead_letters import DEFAULT_BOOTSTRAP, DeadLetter, latest_per_event, parser


def letter(
    offset: int, event_id: UUID | None, headers: tuple[tuple[str, bytes], ...] = ()
) -> DeadLetter:
    return DeadLetter(
        topic="t.g.dlq",
        partition=0,
        offset=offset,
        key=b"k",
        value=b"v",
        headers=headers,
        event_id=event_id,
        event_type=None,
    )


def test_the_bootstrap_comes_from_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLLECTIONS_KAFKA_BOOTSTRAP", raising=False)
    assert parser().parse_args(["--topic", "t", "--group", "g", "list"]).bootstrap == (
        DEFAULT_BOOTSTRAP
    )
    monkeypatch.setenv("COLLECTIONS_KAFKA_BOOTSTRAP", "kafka:9093")
    assert parser().parse_args(["--topic", "t", "--group", "g", "list"]).bootstrap == "kafka:9093"


def test_replay_takes_event_ids_in_one_or_several_options() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    args = parser().parse_args(
        [
            "--topic",
            "t",
            "--group",
            "g",
            "replay",
            "--event-id",
            str(a),
            str(b),
            "--event-id",
            str(c),
        ]
    )
    assert args.event_ids == [a, b, c]
    assert parser().parse_args(["--topic", "t", "--group", "g", "replay"]).event_ids == []


def test_an_event_dead_lettered_twice_is_replayed_from_its_latest_copy() -> None:
    event = uuid4()
    letters = [letter(0, event), letter(1, None), letter(2, event), letter(3, None)]
    assert [item.offset for item in latest_per_event(letters)] == [1, 2, 3]


def test_a_replay_keeps_the_original_headers_and_says_where_it_came_from() -> None:
    headers = (
        ("content-type", b"application/cloudevents+json"),
        ("dlq.reason", b"ValueError: no"),
        ("dlq.replayed-from", b"t.g.dlq/0/0"),
        ("dlq.sqlstate", b"22012"),
    )
    assert letter(5, uuid4(), headers).replay_headers() == [
        ("content-type", b"application/cloudevents+json"),
        ("dlq.replayed-from", b"t.g.dlq/0/5"),
    ]
