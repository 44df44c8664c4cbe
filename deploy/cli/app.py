"""The ``collections`` command: every operator task, one group per module."""

import typer

app = typer.Typer(
    name="collections",
    help="Operate the collections platform: keys, agencies, dead letters, outbox, audit, policy.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    app()
