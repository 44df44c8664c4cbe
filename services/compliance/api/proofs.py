"""The log itself: its signed checkpoint, its key, and Merkle proofs (auditor role)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.compliance.api.dependencies import Auditor, ProofReads, Reads, Writer
from services.compliance.application.ports import SignedCheckpoint
from services.compliance.application.proofs import consistency_proof as consistency
from services.compliance.application.proofs import inclusion_proof as inclusion

router = APIRouter(prefix="/v1/audit", tags=["audit log"])


class CheckpointView(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Hex SHA-256 Merkle tree hash (RFC 9162).")
    timestamp: datetime = Field(description="When the checkpoint was signed.")
    key_id: str = Field(description="The signing key's C2SP key id, 8 hex digits.")
    note: str = Field(description="The C2SP checkpoint as a signed note (its exact text).")

    @classmethod
    def of(cls, signed: SignedCheckpoint) -> "CheckpointView":
        return cls(
            tree_size=signed.tree_size,
            root_hash=signed.root_hash.hex(),
            timestamp=signed.signed_at,
            key_id=signed.key_id,
            note=signed.note,
        )


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


@router.get("/checkpoint", summary="The log's latest signed checkpoint")
async def checkpoint(_auditor: Auditor, reads: Reads, writer: Writer) -> CheckpointView:
    async with reads() as read:
        return CheckpointView.of(await writer.latest(read.log, read.checkpoints))


@router.get("/public-key", summary="The key that signs the checkpoints")
async def public_key(_auditor: Auditor, writer: Writer) -> PublicKey:
    verifier = writer.signer.verifier
    return PublicKey(
        key_id=writer.key_id,
        verifier_key=str(verifier),
        pem=verifier.pem(),
        origin=verifier.name,
    )


@router.get("/proofs/inclusion", summary="Proof that an entry is in the tree of a size")
async def inclusion_proof(
    _auditor: Auditor,
    reads: ProofReads,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    async with reads() as read:
        hashes = await inclusion(read.log, leaf_index, tree_size)
    return InclusionProof(
        leaf_index=leaf_index, tree_size=tree_size, hashes=[h.hex() for h in hashes]
    )


@router.get("/proofs/consistency", summary="Proof that a tree of a size extends a smaller one")
async def consistency_proof(
    _auditor: Auditor,
    reads: ProofReads,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    async with reads() as read:
        hashes = await consistency(read.log, first, second)
    return ConsistencyProof(first=first, second=second, hashes=[h.hex() for h in hashes])
