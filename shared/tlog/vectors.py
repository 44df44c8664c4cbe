"""Running the C2SP/transparency-dev style Merkle test vectors (``inclusion``,
``consistency``, ``subtreeinclusion``, ``subtreeconsistency`` folders of JSON cases)."""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.tlog.merkle import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

KINDS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")


@dataclass(frozen=True)
class Outcome:
    path: Path
    want_error: bool
    error: str | None

    @property
    def passed(self) -> bool:
        return self.want_error == (self.error is not None)


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def check_case(kind: str, case: dict[str, Any]) -> None:
    """Raise :class:`ProofError` if the case's proof does not verify."""
    proof = [_b64(h) for h in case.get("proof") or []]
    if kind == "inclusion":
        verify_inclusion(
            case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"])
        )
    elif kind == "consistency":
        verify_consistency(
            case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
        )
    elif kind == "subtreeinclusion":
        verify_subtree_inclusion(
            case["leafIdx"],
            case["start"],
            case["end"],
            _b64(case["leafHash"]),
            proof,
            _b64(case["root"]),
        )
    else:
        verify_subtree_consistency(
            case["start"],
            case["end"],
            case["size"],
            proof,
            _b64(case["root1"]),
            _b64(case["root2"]),
        )


def run_vectors(root: Path) -> Iterator[Outcome]:
    for kind in KINDS:
        for path in sorted((root / kind).rglob("*.json")):
            case = json.loads(path.read_text())
            try:
                check_case(kind, case)
                error = None
            except ProofError as refused:
                error = str(refused)
            yield Outcome(path, bool(case["wantErr"]), error)
