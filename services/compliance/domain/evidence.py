"""The evidence bundle of a loan, free of I/O: its parts' bytes, and their offline check.

A bundle is a zip of ``statement.pdf``, ``entries.jsonl``, ``checkpoint``, ``proofs.json``,
``public-key`` and ``VERIFY.md``. Every entry line carries the entry's canonical bytes
(``canonical``, base64: what its leaf hashes) and its ``leaf_index``; ``proofs.json`` one RFC
9162 inclusion proof per entry at the signed checkpoint's size; ``public-key`` the C2SP verifier
key line, then its PEM. :func:`check_bundle` re-hashes every entry, walks every proof to the
root, and checks the checkpoint's signature with ``shared.tlog`` (the one implementation).
"""

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.tlog.merkle import ProofError, leaf_hash, verify_inclusion
from shared.tlog.note import Checkpoint, NoteError, Verifier, key_id, open_checkpoint

STATEMENT = "statement.pdf"
ENTRIES = "entries.jsonl"
CHECKPOINT = "checkpoint"
PROOFS = "proofs.json"
PUBLIC_KEY = "public-key"
VERIFY = "VERIFY.md"
PARTS = (STATEMENT, ENTRIES, CHECKPOINT, PROOFS, PUBLIC_KEY, VERIFY)


@dataclass(frozen=True)
class LoggedEntry:
    """An entry as the log holds it: its leaf index and canonical bytes."""

    leaf_index: int
    canonical: bytes


def entries_jsonl(entries: Sequence[LoggedEntry]) -> bytes:
    """One JSON object a line: ``leaf_index``, ``leaf_hash`` (hex), ``canonical`` (base64, the
    bytes the leaf hashes) and ``entry`` (those bytes parsed, to read)."""
    return b"".join(
        orjson.dumps(
            {
                "leaf_index": entry.leaf_index,
                "leaf_hash": leaf_hash(entry.canonical).hex(),
                "canonical": base64.b64encode(entry.canonical).decode(),
                "entry": orjson.loads(entry.canonical),
            }
        )
        + b"\n"
        for entry in entries
    )


def proofs_json(tree_size: int, root_hash: bytes, proofs: Mapping[int, Sequence[bytes]]) -> bytes:
    """``{"tree_size", "root_hash", "proofs": [{"leaf_index", "hashes": [hex]}]}``."""
    return orjson.dumps(
        {
            "tree_size": tree_size,
            "root_hash": root_hash.hex(),
            "proofs": [
                {"leaf_index": index, "hashes": [h.hex() for h in hashes]}
                for index, hashes in sorted(proofs.items())
            ],
        },
        option=orjson.OPT_INDENT_2,
    )


def public_key_file(verifier: Verifier) -> bytes:
    """The C2SP verifier key line, then the key's PEM."""
    return f"{verifier}\n{verifier.pem()}".encode()


def verify_md(loan_id: str, tree_size: int, verifier: Verifier) -> bytes:
    return VERIFY_TEMPLATE.format(loan_id=loan_id, tree_size=tree_size, vkey=verifier).encode()


VERIFY_TEMPLATE = """# Verifying this evidence bundle (loan {loan_id})

This bundle proves itself: each entry of `entries.jsonl` is an entry of the platform's
append-only audit log, unchanged, at its `leaf_index`, in the log of {tree_size} entries whose
root hash the log's key signed in `checkpoint`. Nothing here needs the platform, a database or a
network.

## With the platform's verifier

In a checkout of the platform's source (Python 3.11 or later, `uv sync`; its operator command
`collections` runs it from `services/compliance` and `shared/tlog`, with `orjson` and
`cryptography`):

    uv run collections audit verify-bundle evidence-{loan_id}.zip
    uv run collections audit verify-bundle evidence-{loan_id}.zip --public-key key.txt

It prints `valid` and exits 0, or names what fails (a changed entry, a missing entry, a proof
that does not reach the root, a bad signature or another key) and exits 1. Give `--public-key`
a key obtained separately (the operator's published key, `GET /v1/audit/public-key`): a C2SP
verifier key line or its PEM. Without it, the bundle's own `public-key` is used, which proves
the bundle is whole but not whose key signed it.

The log's key: `{vkey}`

## By hand (any language)

1. `checkpoint` is a C2SP signed note: its text (origin, tree size, base64 root hash, one a
   line) and, after a blank line, `— <name> <base64(4-byte key id ‖ Ed25519 signature)>`.
   Check the Ed25519 signature over the text with the key of `public-key` (PEM), and that the
   key id is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
2. `proofs.json`'s `tree_size` and `root_hash` (hex) are the checkpoint's.
3. For each line of `entries.jsonl`: the leaf hash is SHA-256(0x00 ‖ base64-decoded
   `canonical`); `entry` is those bytes parsed.
4. Walk its proof (same `leaf_index` in `proofs.json`) as RFC 9162 section 2.1.3.2 says, with
   node hash SHA-256(0x01 ‖ left ‖ right): the result is the root hash.
5. Every proof has its entry and every entry its proof.

The bundle proves that every entry it holds is in the signed log, unchanged. That it holds every
entry the log has of the loan is checked against the log itself: an auditor's
`GET /v1/loans/{loan_id}/timeline` lists the same leaf indexes.
"""


class BundleError(ValueError):
    """What of a bundle does not verify."""


@dataclass(frozen=True)
class Verified:
    checkpoint: Checkpoint
    entries: int
    verifier: Verifier


def verifier_from(text: str, name: str | None = None) -> Verifier:
    """A key given as a C2SP verifier key line, or as a PEM (named by the bundle's key, since a
    PEM carries no name); a ``public-key`` file's first line is its verifier key."""
    text = text.strip()
    if "-----BEGIN PUBLIC KEY-----" in text and not text.startswith("-----BEGIN"):
        text = text.splitlines()[0]  # a public-key file: the verifier key line first
    if not text.startswith("-----BEGIN"):
        return Verifier.parse(text.splitlines()[0] if text else text)
    if name is None:
        raise NoteError("a PEM key has no name: the bundle's public-key names the log")
    loaded = serialization.load_pem_public_key(text.encode())
    if not isinstance(loaded, Ed25519PublicKey):
        raise NoteError("the PEM key is not an Ed25519 key")
    raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Verifier(name, key_id(name, raw), loaded)


def check_bundle(parts: Mapping[str, bytes], given_key: str | None = None) -> Verified:
    """Check every part of a bundle; :class:`BundleError` names the first failure."""
    missing = [name for name in PARTS if name not in parts]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}")
    verifier = _verifier(parts[PUBLIC_KEY], given_key)
    try:
        checkpoint = open_checkpoint(parts[CHECKPOINT].decode(), verifier)
    except (NoteError, UnicodeDecodeError) as error:
        raise BundleError(f"checkpoint: {error}") from error
    proofs = _proofs(parts[PROOFS], checkpoint)
    entries = _entries(parts[ENTRIES])
    for index in sorted(set(proofs) - set(entries)):
        raise BundleError(f"entry {index} is missing from {ENTRIES} (its proof is there)")
    for index in sorted(set(entries) - set(proofs)):
        raise BundleError(f"entry {index} has no proof in {PROOFS}")
    for index, leaf in sorted(entries.items()):
        try:
            verify_inclusion(index, checkpoint.size, leaf, proofs[index], checkpoint.root_hash)
        except ProofError as error:
            raise BundleError(
                f"entry {index}: its proof does not reach the signed root (the entry or the "
                f"proof was changed): {error}"
            ) from error
    return Verified(checkpoint, len(entries), verifier)


def _verifier(bundled: bytes, given_key: str | None) -> Verifier:
    try:
        text = bundled.decode()
        own = verifier_from(text)
        lines = text.strip().splitlines()
        pem = "\n".join(lines[1:]).strip()
        if pem and str(verifier_from(pem, own.name)) != str(own):
            raise BundleError(f"{PUBLIC_KEY}: its PEM is not the key of its verifier key line")
        if given_key is None:
            return own
        given = verifier_from(given_key, own.name)
    except (NoteError, ValueError, UnicodeDecodeError) as error:
        if isinstance(error, BundleError):
            raise
        raise BundleError(f"public key: {error}") from error
    if str(given) != str(own):
        raise BundleError(
            f"the bundle's {PUBLIC_KEY} ({own}) is not the key given ({given}): the checkpoint "
            "is checked with the key given"
        )
    return given


def _proofs(raw: bytes, checkpoint: Checkpoint) -> dict[int, list[bytes]]:
    try:
        document = orjson.loads(raw)
        size, root = int(document["tree_size"]), bytes.fromhex(document["root_hash"])
        proofs: dict[int, list[bytes]] = {}
        for proof in document["proofs"]:
            index = int(proof["leaf_index"])
            if index in proofs:
                raise BundleError(f"{PROOFS}: two proofs of entry {index}")
            proofs[index] = [bytes.fromhex(h) for h in proof["hashes"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, BundleError):
            raise
        raise BundleError(f"{PROOFS} is malformed: {error!r}") from error
    if size != checkpoint.size:
        raise BundleError(f"{PROOFS} is of a tree of {size}, the checkpoint of {checkpoint.size}")
    if root != checkpoint.root_hash:
        raise BundleError(f"{PROOFS}' root hash is not the signed root hash")
    return proofs


def _entries(raw: bytes) -> dict[int, bytes]:
    """Leaf hashes by leaf index, each line's readable ``entry`` checked against its bytes."""
    leaves: dict[int, bytes] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = orjson.loads(line)
            index = int(row["leaf_index"])
            canonical = base64.b64decode(row["canonical"], validate=True)
            parsed = orjson.loads(canonical)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise BundleError(f"{ENTRIES} line {number} is malformed: {error!r}") from error
        if index in leaves:
            raise BundleError(f"{ENTRIES}: entry {index} appears twice")
        if row.get("entry") != parsed:
            raise BundleError(f"entry {index} was changed: its entry is not its canonical bytes")
        leaf = leaf_hash(canonical)
        if row.get("leaf_hash") not in (None, leaf.hex()):
            raise BundleError(f"entry {index} was changed: its bytes do not hash to its leaf")
        leaves[index] = leaf
    return leaves
