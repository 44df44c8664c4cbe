"""``collections rules explain``: why a contact was (or would be) refused or allowed, rule by
rule, from compliance's log of the loan (every party's contacts and every fact with its time)
and the shared contact-rules engine; compliance's settings say where its database is."""

import asyncio
import json
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from deploy.cli.policy import console, instant
from shared.db.engine import create_engine, create_session_factory, read_only_transaction

app = typer.Typer(help="Explain the contact rules' verdicts.", no_args_is_help=True)

VERDICT_STYLE = {"refuses": "bold red", "broken": "bold red", "allows": "green", "kept": "green"}


@app.command("explain")
def explain(
    lender: Annotated[str, typer.Option(help="The lender's id.")],
    loan: Annotated[str, typer.Option(help="The loan's id (at that lender).")],
    notification: Annotated[
        str | None, typer.Option(help="A notifier notification's id (sent, or suppressed).")
    ] = None,
    contact: Annotated[
        str | None,
        typer.Option(help="A contact made: notifier:<notification> or agency:<agency>:<activity>."),
    ] = None,
    party: Annotated[
        str | None, typer.Option(help="A proposed contact's party: lender or agency:<id>.")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="The proposed contact's channel.")] = None,
    at: Annotated[str | None, typer.Option(help="The proposed contact's time (ISO 8601).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Each rule of the loan's pack with its verdict, id, source and the facts it used."""
    from services.compliance.application.explain import (
        NothingToExplainError,
        case_of,
        explain_contact,
        explain_notification,
        explain_proposed,
    )
    from services.compliance.domain.judgement import LoggedEvent
    from shared.contact_rules import load_pack
    from shared.vocabulary import Channel, Jurisdiction

    proposed = party is not None or channel is not None or at is not None
    if sum((notification is not None, contact is not None, proposed)) != 1:
        raise typer.BadParameter(
            "name one of --notification, --contact, or --party with --channel and --at"
        )
    packs = {j: load_pack(j) for j in Jurisdiction}
    events = [
        LoggedEvent(r["leaf_index"], r["event_type"], orjson.loads(r["entry"])["data"])
        for r in asyncio.run(_timeline(lender, loan))
    ]
    try:
        case = case_of(lender, loan, events)
        if notification is not None:
            explained = explain_notification(case, events, notification, packs)
        elif contact is not None:
            explained = explain_contact(case, contact, packs)
        else:
            if party is None or channel is None or at is None:
                raise typer.BadParameter("a proposed contact needs --party, --channel and --at")
            who = _party(party)
            try:
                how = Channel(channel)
            except ValueError:
                known = ", ".join(c.value for c in Channel)
                raise typer.BadParameter(f"one of {known}", param_hint="--channel") from None
            explained = explain_proposed(case, who, how, instant(at, "--at"), packs)
    except NothingToExplainError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    report = explained.as_json()
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        show(report, console())


def _party(text: str) -> Any:
    from shared.contact_rules import Party

    if text == "lender":
        return Party.lender()
    if text.startswith("agency:") and len(text) > len("agency:"):
        return Party.agency(text.removeprefix("agency:"))
    raise typer.BadParameter("lender or agency:<id>", param_hint="--party")


async def _timeline(lender: str, loan: str) -> list[dict[str, Any]]:
    from services.compliance.adapters.dry_run_reads import SqlDryRunReads
    from services.compliance.settings import ComplianceSettings

    settings = ComplianceSettings()
    engine = create_engine(settings.database_url, 2, tls=settings.postgres_tls())
    try:
        async with read_only_transaction(create_session_factory(engine)) as session:
            return (await SqlDryRunReads(session).timelines([(lender, loan)])).get(
                (lender, loan), []
            )
    finally:
        await engine.dispose()


def show(report: dict[str, Any], console: Console) -> None:
    c = report["contact"]
    verdict = "allowed" if report["allowed"] else "refused"
    if report["mode"] == "judge":
        verdict = "no violation" if report["allowed"] else "a violation"
    console.print(
        f"{c['party']} {c['channel']} at {c['borrower_local_time']} ({c['id']}, {c['debt']}): "
        f"[bold]{verdict}[/bold] by {report['pack_version']}"
    )
    table = Table(title="rules")
    for column in ("rule", "verdict", "title", "source", "why", "evidence"):
        table.add_column(column)
    for rule in report["rules"]:
        style = VERDICT_STYLE.get(rule["verdict"], "dim")
        table.add_row(
            rule["rule_id"],
            f"[{style}]{rule['verdict']}[/{style}]",
            rule["title"],
            rule["source"],
            rule["explanation"],
            ", ".join(rule["evidence"]),
        )
    console.print(table)
    facts = Table(title="facts used")
    facts.add_column("fact")
    facts.add_column("value")
    for key, value in report["facts"].items():
        facts.add_row(
            key, json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        )
    console.print(facts)
