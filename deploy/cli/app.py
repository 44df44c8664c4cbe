"""The ``collections`` command: every operator task, one group per module."""

import typer

from deploy.cli import agencies, audit, dead_letters, keys, migrate, outbox, policy, reseal, rules

app = typer.Typer(
    name="collections",
    help="Operate the collections platform: keys, agencies, dead letters, outbox, audit, policy.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("migrate")(migrate.command)
app.add_typer(keys.app, name="keys")
app.add_typer(agencies.app, name="agencies")
app.add_typer(dead_letters.app, name="dead-letters")
app.add_typer(outbox.app, name="outbox")
app.command("reseal")(reseal.command)
app.add_typer(audit.app, name="audit")

app.add_typer(policy.app, name="policy")
app.add_typer(rules.app, name="rules")


def main() -> None:
    app()
