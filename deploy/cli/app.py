"""The ``collections`` command: every operator task, one group per module."""

import typer

from deploy.cli import policy, rules

app = typer.Typer(
    name="collections",
    help="Operate the collections platform: keys, agencies, dead letters, outbox, audit, policy.",
    no_args_is_help=True,
    add_completion=False,
)

app.add_typer(policy.app, name="policy")
app.add_typer(rules.app, name="rules")


def main() -> None:
    app()
