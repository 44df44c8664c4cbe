"""What a replay carries and what the dead-letter command shows, without Kafka."""

from uuid import UUID, uuid4

from deploy.cli.dead_letters import details, summary
from shared.kafka.dead_letters import DeadLetter, latest_per_event


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


def test_list_shows_the_reason_on_one_line_and_show_everything() -> None:
    event = uuid4()
    headers = (("dlq.reason", b"ValueError:\nno"), ("dlq.source", b"t/0/7"))
    dead = letter(3, event, headers)
    assert summary(dead) == {
        "address": "t.g.dlq/0/3",
        "event_id": str(event),
        "type": None,
        "source": "t/0/7",
        "sqlstate": None,
        "reason": "ValueError: no",
    }
    assert details(dead)["headers"] == {"dlq.reason": "ValueError:\nno", "dlq.source": "t/0/7"}
    assert details(dead)["value"] == "v"
