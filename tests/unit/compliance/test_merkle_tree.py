"""Stored nodes, appended in uneven batches, give the roots and proofs RFC 9162 defines."""

from shared.tlog.merkle import leaf_hash, root_of, verify_consistency, verify_inclusion
from shared.tlog.tree import (
    NodeKey,
    append_leaves,
    consistency_ranges,
    inclusion_ranges,
    nodes_of,
    range_hash,
    range_nodes,
)

LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(70)]


def grown_in_batches() -> dict[NodeKey, bytes]:
    nodes: dict[NodeKey, bytes] = {}
    size = 0
    for batch in (1, 2, 5, 8, 3, 17, 34):
        frontier = {key: nodes[key] for key in range_nodes(0, size)}
        appended = append_leaves(size, frontier, LEAVES[size : size + batch])
        nodes.update(appended.nodes)
        size = appended.size
        assert appended.root == root_of(LEAVES[:size])
    assert size == len(LEAVES)
    return nodes


def test_every_inclusion_proof_from_stored_nodes_verifies() -> None:
    nodes = grown_in_batches()
    for size in range(1, len(LEAVES) + 1):
        root = root_of(LEAVES[:size])
        for index in range(size):
            proof = [range_hash(s, e, nodes) for s, e in inclusion_ranges(index, size)]
            verify_inclusion(index, size, LEAVES[index], proof, root)


def test_every_consistency_proof_from_stored_nodes_verifies() -> None:
    nodes = grown_in_batches()
    for second in range(1, len(LEAVES) + 1):
        for first in range(1, second + 1):
            proof = [range_hash(s, e, nodes) for s, e in consistency_ranges(0, first, second)]
            verify_consistency(
                first, second, proof, root_of(LEAVES[:first]), root_of(LEAVES[:second])
            )


def test_a_proof_reads_logarithmically_many_nodes() -> None:
    size = 1_000_000
    assert len(nodes_of(inclusion_ranges(123_457, size))) <= 2 * size.bit_length()
    assert len(nodes_of(consistency_ranges(0, 654_321, size))) <= 2 * size.bit_length()


def test_a_tree_head_is_its_right_edge() -> None:
    assert range_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert range_nodes(0, 0) == []
