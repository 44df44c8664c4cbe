"""The offline verifier: trusts nothing but the log's public key and a checkpoint it saved.
The operator's command is ``collections audit verify`` (``deploy/cli/audit.py``):

1. the log's current checkpoint (the one its export is pinned to) is signed by the key;
2. the tree only grew since the saved checkpoint, and the consistency proof between the two
   verifies;
3. ``--full`` (an auditor of every lender): every entry, re-hashed from its canonical bytes, in
   leaf order with no gap, rebuilds the checkpoint's root, so any entry modified, deleted,
   reordered or cut off in the database is caught; otherwise ``--samples`` entries of the export
   are each checked against an inclusion proof.
"""

import base64
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from shared.tlog.merkle import ProofError, leaf_hash, root_of, verify_consistency, verify_inclusion
from shared.tlog.note import Checkpoint, NoteError, Verifier, open_checkpoint


class VerificationError(Exception):
    """The log is not what its signed checkpoints say."""


@dataclass
class Report:
    checkpoint: Checkpoint
    note: str
    entries_seen: int = 0
    entries_proven: int = 0
    notes: list[str] = field(default_factory=list)


async def verify_log(
    client: httpx.AsyncClient,
    verifier: Verifier,
    saved_note: str | None = None,
    *,
    full: bool = False,
    samples: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Verify the log behind ``client`` (authenticated as an auditor); raise
    :class:`VerificationError` with the reason on the first discrepancy. ``progress(done,
    total)`` follows the entries checked."""
    note, entries = await _export(client)
    try:
        current = open_checkpoint(note, verifier)
    except NoteError as error:
        raise VerificationError(f"the log's checkpoint: {error}") from error
    report = Report(current, note, entries_seen=len(entries))
    if saved_note is not None:
        await _check_growth(client, verifier, saved_note, current)
        report.notes.append("consistent with the saved checkpoint")
    chosen = entries if full else random.sample(entries, min(samples, len(entries)))
    tell = progress or (lambda done, total: None)
    tell(0, len(entries) + (0 if full else len(chosen)))
    for done, entry in enumerate(entries, start=1):
        _check_leaf(entry)
        if done % 1000 == 0 or done == len(entries):
            tell(done, len(entries) + (0 if full else len(chosen)))
    if full:
        _check_whole_tree(current, entries)
    else:
        for done, entry in enumerate(chosen, start=1):
            await _check_inclusion(client, current, entry)
            tell(len(entries) + done, len(entries) + len(chosen))
    report.entries_proven = len(chosen)
    return report


async def _export(client: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    response = await client.get("/v1/audit/export", params={"format": "jsonl"})
    _ok(response, "export")
    lines = response.content.splitlines()
    if not lines:
        raise VerificationError("the export is empty (not even its checkpoint)")
    head = orjson.loads(lines[0])["checkpoint"]
    return str(head["note"]), [orjson.loads(line) for line in lines[1:]]


async def _check_growth(
    client: httpx.AsyncClient, verifier: Verifier, saved_note: str, current: Checkpoint
) -> None:
    try:
        saved = open_checkpoint(saved_note, verifier)
    except NoteError as error:
        raise VerificationError(f"the saved checkpoint: {error}") from error
    if current.size < saved.size:
        raise VerificationError(f"the log shrank from {saved.size} to {current.size} entries")
    if current.size == saved.size:
        if current.root_hash != saved.root_hash:
            raise VerificationError(f"two different trees of {saved.size} entries were signed")
        return
    if saved.size == 0:
        return
    response = await client.get(
        "/v1/audit/proofs/consistency", params={"first": saved.size, "second": current.size}
    )
    _ok(response, "consistency proof")
    proof = [bytes.fromhex(h) for h in response.json()["hashes"]]
    try:
        verify_consistency(saved.size, current.size, proof, saved.root_hash, current.root_hash)
    except ProofError as error:
        raise VerificationError(
            f"the tree of {current.size} does not extend the saved tree of {saved.size}: {error}"
        ) from error


def _check_leaf(entry: dict[str, Any]) -> None:
    hashed = leaf_hash(base64.b64decode(entry["canonical"]))
    if hashed.hex() != entry["leaf_hash"]:
        raise VerificationError(f"entry {entry['leaf_index']}: its bytes do not hash to its leaf")


def _check_whole_tree(checkpoint: Checkpoint, entries: Sequence[dict[str, Any]]) -> None:
    indexes = [entry["leaf_index"] for entry in entries]
    if indexes != list(range(checkpoint.size)):
        missing = sorted(set(range(checkpoint.size)) - set(indexes))[:5]
        raise VerificationError(
            f"the export holds {len(indexes)} entries, not leaves 0..{checkpoint.size - 1} in "
            "order" + (f" (missing {missing})" if missing else " (out of order or extra)")
        )
    root = root_of([bytes.fromhex(entry["leaf_hash"]) for entry in entries])
    if root != checkpoint.root_hash:
        raise VerificationError("the entries do not rebuild the signed root hash")


async def _check_inclusion(
    client: httpx.AsyncClient, checkpoint: Checkpoint, entry: dict[str, Any]
) -> None:
    index = entry["leaf_index"]
    response = await client.get(
        "/v1/audit/proofs/inclusion", params={"leaf_index": index, "tree_size": checkpoint.size}
    )
    _ok(response, f"inclusion proof of {index}")
    proof = [bytes.fromhex(h) for h in response.json()["hashes"]]
    try:
        verify_inclusion(
            index, checkpoint.size, bytes.fromhex(entry["leaf_hash"]), proof, checkpoint.root_hash
        )
    except ProofError as error:
        raise VerificationError(f"entry {index} is not in the signed tree: {error}") from error


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code != 200:
        raise VerificationError(f"{what}: HTTP {response.status_code} {response.text[:200]}")
