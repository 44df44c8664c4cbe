"""Every case of the shared Merkle test vectors: each happy path verifies, each ``wantErr``
case is rejected."""

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.tlog.merkle import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "data" / "merkle"  # copied from ../shared/testdata


def cases(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(f, id=str(f.relative_to(VECTORS / kind))) for f in files]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def hashes(case: dict[str, Any]) -> list[bytes]:
    return [b64(h) for h in case["proof"] or []]


def check(case: dict[str, Any], verify: Callable[[], None]) -> None:
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify()
    else:
        verify()


def test_the_vectors_are_there() -> None:
    assert len(list(VECTORS.rglob("*.json"))) > 400


@pytest.mark.parametrize("path", cases("inclusion"))
def test_inclusion(path: Path) -> None:
    c = json.loads(path.read_text())
    check(
        c,
        lambda: verify_inclusion(
            c["leafIdx"], c["treeSize"], b64(c["leafHash"]), hashes(c), b64(c["root"])
        ),
    )


@pytest.mark.parametrize("path", cases("consistency"))
def test_consistency(path: Path) -> None:
    c = json.loads(path.read_text())
    check(
        c,
        lambda: verify_consistency(
            c["size1"], c["size2"], hashes(c), b64(c["root1"]), b64(c["root2"])
        ),
    )


@pytest.mark.parametrize("path", cases("subtreeinclusion"))
def test_subtree_inclusion(path: Path) -> None:
    c = json.loads(path.read_text())
    check(
        c,
        lambda: verify_subtree_inclusion(
            c["leafIdx"], c["start"], c["end"], b64(c["leafHash"]), hashes(c), b64(c["root"])
        ),
    )


@pytest.mark.parametrize("path", cases("subtreeconsistency"))
def test_subtree_consistency(path: Path) -> None:
    c = json.loads(path.read_text())
    check(
        c,
        lambda: verify_subtree_consistency(
            c["start"], c["end"], c["size"], hashes(c), b64(c["root1"]), b64(c["root2"])
        ),
    )
