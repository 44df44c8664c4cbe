"""The log itself: its signed checkpoint, its key, and Merkle proofs (auditor role)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.compliance.adapters.audit_log import AuditLog, MissingNodesError
from services.compliance.api import Auditor, Runtime, Writer
from shared.http.problems import ProblemError
from shared.tlog.tree import NodeKey, consistency_ranges, inclusion_ranges, nodes_of, range_hash

router = APIRouter(prefix="/v1/audit", tags=["audit log"])


class CheckpointView(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Hex SHA-256 Merkle tree hash (RFC 9162).")
    timestamp: datetime = Field(description="When the checkpoint was signed.")
    key_id: str = Field(description="The signing key's C2SP key id, 8 hex digits.")
    note: str = Field(description="The C2SP checkpoint as a signed note (its exact text).")


class PublicKey(BaseModel):
    key_id: str
    verifier_key: str = Field(description="C2SP verifier key: <name>+<hex key id>+<base64 key>")
    pem: str = Field(description="The Ed25519 public key, SubjectPublicKeyInfo PEM.")
    origin: str = Field(description="The checkpoints' origin line (the key's name).")


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str] = Field(description="Hex hashes, the leaf's sibling first (RFC 9162).")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str] = Field(description="Hex hashes of RFC 9162's PROOF(first, D[second]).")


def _bad(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "Invalid request",
        message,
        errors=[{"field": f"query.{field}", "message": message, "code": "out_of_range"}],
    )


async def _nodes(
    runtime: Runtime, keys: set[NodeKey], field: str, size: int
) -> dict[NodeKey, bytes]:
    """The proof's nodes in one read; missing ones mean a tree larger than the log."""
    async with runtime.reads() as session:
        log = AuditLog(session)
        try:
            return await log.nodes(keys)
        except MissingNodesError:
            if size > (await log.head()).size:
                raise _bad(field, f"the log has fewer than {size} entries") from None
            raise


@router.get("/checkpoint", summary="The log's latest signed checkpoint")
async def checkpoint(_auditor: Auditor, runtime: Runtime, writer: Writer) -> CheckpointView:
    async with runtime.reads() as session:
        signed = await writer.latest(session)
    return CheckpointView(
        tree_size=signed.tree_size,
        root_hash=signed.root_hash.hex(),
        timestamp=signed.signed_at,
        key_id=signed.key_id,
        note=signed.note,
    )


@router.get("/public-key", summary="The key that signs the checkpoints")
async def public_key(_auditor: Auditor, writer: Writer) -> PublicKey:
    verifier = writer.signer.verifier
    return PublicKey(
        key_id=f"{verifier.key_id:08x}",
        verifier_key=str(verifier),
        pem=verifier.pem(),
        origin=verifier.name,
    )


@router.get("/proofs/inclusion", summary="Proof that an entry is in the tree of a size")
async def inclusion_proof(
    _auditor: Auditor,
    runtime: Runtime,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    if leaf_index >= tree_size:
        raise _bad("leaf_index", f"leaf {leaf_index} is not in a tree of {tree_size}")
    ranges = inclusion_ranges(leaf_index, tree_size)
    nodes = await _nodes(runtime, nodes_of(ranges), "tree_size", tree_size)
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=tree_size,
        hashes=[range_hash(start, end, nodes).hex() for start, end in ranges],
    )


@router.get("/proofs/consistency", summary="Proof that a tree of a size extends a smaller one")
async def consistency_proof(
    _auditor: Auditor,
    runtime: Runtime,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    if first > second:
        raise _bad("first", f"first ({first}) is larger than second ({second})")
    ranges = consistency_ranges(0, first, second)
    nodes = await _nodes(runtime, nodes_of(ranges), "second", second)
    return ConsistencyProof(
        first=first,
        second=second,
        hashes=[range_hash(start, end, nodes).hex() for start, end in ranges],
    )
