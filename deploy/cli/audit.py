"""``collections audit verify|verify-bundle|vectors``: check compliance's audit log trusting
nothing but its public key and what was saved before.

``verify`` checks the running log against a checkpoint saved earlier (``--checkpoint``): the
current checkpoint is signed by the key, the tree only grew (a consistency proof), and entries
re-hash to their leaves and are in the signed tree (``--samples`` inclusion proofs, or
``--full``: the whole tree rebuilt); ``--save`` keeps the checkpoint verified now for next
time. ``verify-bundle`` checks a loan's evidence bundle offline (no network, no database).
The checks are compliance's (``services/compliance/cli/``); exit status 1 names what fails.
"""

import asyncio
from pathlib import Path
from typing import Annotated

import httpx
import typer

from deploy.cli.output import console, fail, progress_bar
from deploy.cli.settings import OperatorSettings
from services.compliance.cli.verify import Report, VerificationError, verify_log
from services.compliance.cli.verify_bundle import verify_bundle
from services.compliance.domain.evidence import BundleError
from shared.tlog.note import NoteError, Verifier
from shared.tlog.vectors import run_vectors

app = typer.Typer(help="Verify compliance's audit log and evidence bundles.")


def _key_text(value: str) -> str:
    """A verifier key given inline, or the file that holds it (its first line)."""
    path = Path(value)
    if path.is_file():
        return path.read_text().splitlines()[0].strip()
    return value


@app.command()
def verify(
    public_key: Annotated[
        str, typer.Option(help="the log's C2SP verifier key, or a file holding it")
    ],
    checkpoint: Annotated[
        Path | None, typer.Option(help="a signed checkpoint saved earlier", exists=True)
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="where to save the checkpoint verified now")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="rebuild the tree from every entry")] = False,
    samples: Annotated[int, typer.Option(min=0, help="inclusion proofs to check")] = 20,
    url: Annotated[
        str | None, typer.Option(help="compliance's URL (default: $COLLECTIONS_COMPLIANCE_URL)")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="an auditor's key (default: $COLLECTIONS_API_KEY)")
    ] = None,
) -> None:
    """Verify the running log against a checkpoint saved earlier."""
    settings = OperatorSettings()
    saved = checkpoint.read_text() if checkpoint else None
    headers = {"Authorization": f"Bearer {api_key or settings.api_key.get_secret_value()}"}
    base_url = url or settings.compliance_url
    try:
        verifier = Verifier.parse(_key_text(public_key))
    except NoteError as error:
        raise fail(f"FAILED: the public key: {error}") from error

    with progress_bar() as bar:
        task = bar.add_task("verifying the audit log", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        async def run() -> Report:
            async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
                return await verify_log(
                    client, verifier, saved, full=full, samples=samples, progress=advance
                )

        try:
            report = asyncio.run(run())
        except (VerificationError, NoteError, httpx.HTTPError) as error:
            raise fail(f"FAILED: {error}") from error
    if save:
        save.write_text(report.note)
    how = "rebuilt from every entry" if full else f"{report.entries_proven} inclusion proofs"
    out = console()
    out.print(
        f"OK: tree of {report.checkpoint.size} entries, root {report.checkpoint.root_hash.hex()}",
        markup=False,
    )
    out.print(f"    {how}; {'; '.join(report.notes) or 'no saved checkpoint given'}", markup=False)


@app.command("verify-bundle")
def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="the evidence bundle (zip)")],
    public_key: Annotated[
        Path | None,
        typer.Option(help="the log's key obtained separately: a C2SP verifier key line, or PEM"),
    ] = None,
) -> None:
    """Verify a loan's evidence bundle offline: prints valid, or invalid and why."""
    try:
        key = public_key.read_text() if public_key else None
        verified = verify_bundle(bundle, key)
    except (BundleError, OSError, UnicodeDecodeError) as error:
        typer.echo(f"invalid: {error}")
        raise typer.Exit(1) from error
    typer.echo("valid")
    typer.echo(
        f"{verified.entries} entries in the tree of {verified.checkpoint.size} signed by "
        f"{verified.verifier}, root {verified.checkpoint.root_hash.hex()}",
        err=True,
    )


@app.command()
def vectors(directory: Annotated[Path, typer.Argument(help="the test vectors' folder")]) -> None:
    """Run Merkle test vectors (C2SP/tlog format) against the log's proof code."""
    outcomes = list(run_vectors(directory))
    failed = [outcome for outcome in outcomes if not outcome.passed]
    for outcome in failed:
        typer.echo(f"FAILED: {outcome.path} (wantErr {outcome.want_error}, got {outcome.error})")
    typer.echo(f"{len(outcomes) - len(failed)}/{len(outcomes)} vectors pass")
    if failed or not outcomes:
        raise typer.Exit(1)
