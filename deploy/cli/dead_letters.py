"""``collections dead-letters list|show|replay --topic SOURCE --group GROUP``: a consumer
group's dead letters (``<topic>.<group>.dlq``), with Kafka from ``COLLECTIONS_KAFKA_*``.

``replay`` (after the fix is deployed) republishes each chosen dead letter onto the source
topic (see :mod:`shared.kafka.dead_letters`): replaying twice applies once.
"""

import asyncio
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from deploy.cli.output import JsonOption, console, fail, print_json, progress_bar, table
from deploy.cli.settings import OperatorSettings

if TYPE_CHECKING:
    from shared.kafka.dead_letters import DeadLetter

app = typer.Typer(help="A consumer group's dead letters: list, show, replay.")

Topic = Annotated[str, typer.Option(help="the source topic, e.g. collections.loans.v1")]
Group = Annotated[str, typer.Option(help="the consumer group, e.g. notifier")]
COLUMNS = ["address", "event_id", "type", "source", "sqlstate", "reason"]


def summary(letter: "DeadLetter") -> dict[str, object]:
    """What ``list`` shows of a dead letter."""
    return {
        "address": letter.address,
        "event_id": str(letter.event_id) if letter.event_id is not None else None,
        "type": letter.event_type,
        "source": letter.header("dlq.source") or None,
        "sqlstate": letter.header("dlq.sqlstate") or None,
        "reason": letter.header("dlq.reason").replace("\n", " ")[:200],
    }


def details(letter: "DeadLetter") -> dict[str, object]:
    """Everything of a dead letter: its key, headers and value."""
    return {
        "address": letter.address,
        "event_id": str(letter.event_id) if letter.event_id is not None else None,
        "type": letter.event_type,
        "key": (letter.key or b"").decode(errors="replace"),
        "headers": {name: raw.decode(errors="replace") for name, raw in letter.headers},
        "value": (letter.value or b"").decode(errors="replace"),
    }


def _read(topic: str, group: str) -> list["DeadLetter"]:
    from shared.kafka.dead_letters import read_dead_letters

    kafka = OperatorSettings().kafka_connection()
    try:
        return asyncio.run(read_dead_letters(kafka, topic, group))
    except LookupError as error:
        raise fail(error.args[0]) from error


@app.command("list")
def list_letters(topic: Topic, group: Group, as_json: JsonOption = False) -> None:
    """One row per dead letter."""
    rows = [summary(letter) for letter in _read(topic, group)]
    table(rows, COLUMNS, f"dead letters of {group} on {topic}", as_json=as_json)


@app.command()
def show(
    event_id: Annotated[UUID, typer.Argument(help="the event's id")], topic: Topic, group: Group
) -> None:
    """The key, headers and value of an event's dead letters (JSON)."""
    matching = [letter for letter in _read(topic, group) if letter.event_id == event_id]
    if not matching:
        raise fail(f"no dead letter for {event_id}")
    print_json([details(letter) for letter in matching])


@app.command("replay")
def replay_letters(
    topic: Topic,
    group: Group,
    event_id: Annotated[
        list[UUID] | None, typer.Option("--event-id", help="only these events (repeat)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Republish dead letters (every one, or those of --event-id) onto the source topic."""
    from shared.kafka.dead_letters import replay

    kafka = OperatorSettings().kafka_connection()
    with progress_bar() as bar:
        task = bar.add_task(f"replaying onto {topic}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            replayed = asyncio.run(replay(kafka, topic, group, event_id or (), advance))
        except LookupError as error:
            raise fail(error.args[0]) from error
    rows = [summary(letter) for letter in replayed]
    if as_json:
        print_json(rows)
        return
    table(rows, COLUMNS, f"replayed onto {topic}", as_json=False)
    console().print(f"{len(replayed)} replayed onto {topic}", markup=False)
