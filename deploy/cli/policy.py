"""``collections policy dry-run``: a changed cadence policy, placement policy or rule pack run
over the past loans of a period, by the service that owns the data, read-only.

The kind of file picks the service (``--cadence``: the notifier, ``--placement``: the agency
gateway, ``--rule-pack``: compliance); its settings (environment, ``<SERVICE>_DATABASE_URL``
...) say where its database is, as for the service itself.
"""

import asyncio
import json
import tomllib
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.db.engine import create_engine, create_session_factory, read_only_transaction
from shared.settings import ServiceSettings

app = typer.Typer(
    help="Try a changed policy or rule pack on past loans before shipping it.",
    no_args_is_help=True,
)

Report = dict[str, Any]
Run = Callable[[Callable[[int, int], None]], Awaitable[Report]]


def instant(value: str, name: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date-time (without an offset: UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time", param_hint=name
        ) from None
    if len(value) == 10:
        parsed = datetime.combine(parsed.date(), time(), tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("dry-run")
def dry_run(
    time_from: Annotated[str, typer.Option("--from", help="Start of the period (ISO 8601).")],
    time_to: Annotated[str, typer.Option("--to", help="End of the period, excluded (ISO 8601).")],
    cadence: Annotated[
        Path | None,
        typer.Option(
            help="A changed cadence policy file (the notifier's).", exists=True, dir_okay=False
        ),
    ] = None,
    placement: Annotated[
        Path | None,
        typer.Option(
            help="A changed placement policy file (the agency gateway's).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    rule_pack: Annotated[
        Path | None,
        typer.Option(
            "--rule-pack",
            help="A changed rule pack, or a lender overlay (compliance).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    lender: Annotated[
        str | None, typer.Option(help="Only this lender's loans (rule packs).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """What the candidate would have sent, placed, refused or judged differently in the period,
    against the current policy. Reads only: nothing is sent, placed or written."""
    chosen = [f for f in (cadence, placement, rule_pack) if f is not None]
    if len(chosen) != 1:
        raise typer.BadParameter("name exactly one of --cadence, --placement, --rule-pack")
    start, end = instant(time_from, "--from"), instant(time_to, "--to")
    if end <= start:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    if cadence is not None:
        run = _cadence(cadence, start, end)
    elif placement is not None:
        run = _placement(placement, start, end)
    else:
        assert rule_pack is not None
        run = _rule_pack(rule_pack, start, end, lender)
    report = asyncio.run(_with_progress(run, quiet=as_json))
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        show(report, console())


def _cadence(path: Path, start: datetime, end: datetime) -> Run:
    from services.notifier.adapters.dry_run_reads import SqlDryRunReads, candidate_policy
    from services.notifier.application.dry_run import cadence_dry_run
    from services.notifier.domain.cadence_policies import PolicyError
    from services.notifier.settings import NotifierSettings
    from services.notifier.wiring import load_rules

    settings = NotifierSettings()
    packs, templates, policies = load_rules(settings)
    try:
        candidate = candidate_policy(path, templates, packs)
    except PolicyError as error:
        raise typer.BadParameter(str(error), param_hint="--cadence") from None

    async def run(progress: Callable[[int, int], None]) -> Report:
        async with _Sessions(settings) as sessions, read_only_transaction(sessions) as session:
            reads = SqlDryRunReads(session)
            done = await cadence_dry_run(
                reads, candidate, policies, packs, start, end, progress=progress
            )
        return done.as_json()

    return run


def _placement(path: Path, start: datetime, end: datetime) -> Run:
    from services.agency_gateway.adapters.dry_run_reads import SqlDryRunReads
    from services.agency_gateway.adapters.policy_file import load_policy
    from services.agency_gateway.application.dry_run import placement_dry_run
    from services.agency_gateway.settings import AgencyGatewaySettings

    settings = AgencyGatewaySettings()
    current = load_policy(settings.placement_policy_file)
    try:
        candidate = load_policy(path)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise typer.BadParameter(str(error), param_hint="--placement") from None

    async def run(progress: Callable[[int, int], None]) -> Report:
        async with _Sessions(settings) as sessions, read_only_transaction(sessions) as session:
            reads = SqlDryRunReads(session)
            done = await placement_dry_run(reads, candidate, current, start, end, progress=progress)
        return done.as_json()

    return run


def _rule_pack(path: Path, start: datetime, end: datetime, lender: str | None) -> Run:
    from services.compliance.adapters.dry_run_reads import SqlDryRunReads
    from services.compliance.application.dry_run import rule_pack_dry_run
    from services.compliance.settings import ComplianceSettings
    from shared.contact_rules import PackError, load_overlay_file, load_pack, load_pack_file
    from shared.vocabulary import Jurisdiction

    settings = ComplianceSettings()
    packs = {j: load_pack(j) for j in Jurisdiction}
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
        if "base" in raw:  # a lender's overlay on the pack it names
            base = next((p for p in packs.values() if p.version == raw["base"]), None)
            if base is None:
                raise PackError(f"{path.name}: base: {raw['base']} is not a shipped pack")
            candidate = load_overlay_file(path, base)
        else:
            candidate = load_pack_file(path)
    except (PackError, tomllib.TOMLDecodeError) as error:
        raise typer.BadParameter(str(error), param_hint="--rule-pack") from None

    async def run(progress: Callable[[int, int], None]) -> Report:
        async with _Sessions(settings) as sessions, read_only_transaction(sessions) as session:
            reads = SqlDryRunReads(session)
            done = await rule_pack_dry_run(
                reads, candidate, packs, start, end, lender_id=lender, progress=progress
            )
        return done.as_json()

    return run


class _Sessions:
    """A small engine on the service's database, disposed at the end."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._engine = create_engine(settings.database_url, 2, tls=settings.postgres_tls())

    async def __aenter__(self) -> Any:
        return create_session_factory(self._engine)

    async def __aexit__(self, *exc: object) -> None:
        await self._engine.dispose()


async def _with_progress(run: Run, *, quiet: bool) -> Report:
    bar: AbstractContextManager[Any] = nullcontext()
    if not quiet:
        bar = Progress(
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    with bar as progress:
        task = progress.add_task("replay", total=None) if progress else None

        def advance(done: int, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done, total=total)

        return await run(advance)


def console() -> Console:
    """The terminal's width; piped to a file or a program, wide enough for every column."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=240)


def show(report: Report, console: Console) -> None:
    """The differences as a table, then the summary."""
    title = f"{report['kind']} dry run: {report['candidate']} against {report['current']}"
    differences = report["differences"]
    if differences:
        table = Table(title=title)
        columns = list(differences[0])
        for column in columns:
            table.add_column(column)
        for row in differences:
            table.add_row(*(str(row[c]) for c in columns))
        console.print(table)
    else:
        console.print(f"{title}: no differences")
    summary = Table(title=f"summary, {report['from']} to {report['to']}")
    summary.add_column("measure")
    summary.add_column("count", justify="right")
    for key, value in report["summary"].items():
        summary.add_row(key, str(value))
    console.print(summary)
