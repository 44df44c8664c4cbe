"""Every case of the shared Merkle test vectors: each happy path verifies, each ``wantErr``
case is rejected (the vectors are copied from ../shared/testdata/merkle, Apache-2.0)."""

from pathlib import Path

import pytest

from shared.tlog.vectors import KINDS, Outcome, run_vectors
from tests.support.operator_cli import invoke

VECTORS = Path(__file__).resolve().parents[2] / "data" / "merkle"
OUTCOMES = list(run_vectors(VECTORS))


def test_every_kind_of_vector_is_there() -> None:
    assert len(OUTCOMES) == len(list(VECTORS.rglob("*.json"))) > 500
    for kind in KINDS:
        assert any(o.path.is_relative_to(VECTORS / kind) for o in OUTCOMES)
    assert sum(o.want_error for o in OUTCOMES) > 400  # most cases are tampered proofs


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: str(o.path.relative_to(VECTORS)))
def test_vector(outcome: Outcome) -> None:
    if outcome.want_error:
        assert outcome.error is not None, "a wantErr case was accepted"
    else:
        assert outcome.error is None, outcome.error


def test_the_operator_cli_passes_every_vector() -> None:
    checked = invoke("audit", "vectors", str(VECTORS))
    assert checked.code == 0
    assert checked.out.strip() == f"{len(OUTCOMES)}/{len(OUTCOMES)} vectors pass"
