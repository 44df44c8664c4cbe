"""How the ``collections`` commands print: rich tables for people, ``--json`` for programs,
progress bars (on standard error, so ``--json`` output stays clean) on long work."""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document, for programs.")]


def console() -> Console:
    """Standard output, made at each call (so tests capturing it see what is printed); lines
    are never wrapped (tables fit the terminal)."""
    return Console(soft_wrap=True)


def errors() -> Console:
    return Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on standard error; the caller raises what this returns."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def print_json(document: object) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, default=str))


def table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str, *, as_json: bool
) -> None:
    """``rows`` as a table of ``columns`` (or, with ``--json``, every field as a JSON array)."""
    if as_json:
        print_json(list(rows))
        return
    shown = Table(title=title)
    for name in columns:
        shown.add_column(name, no_wrap=name.endswith("id"), overflow="fold")
    for row in rows:
        shown.add_row(*(_cell(row.get(name)) for name in columns))
    console().print(shown)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on standard error; add tasks with ``total`` where it is known."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors(),
    ) as bar:
        yield bar
