"""Merkle proofs of the log (RFC 9162), from the nodes it stores."""

from services.compliance.application.errors import OutOfRangeError
from services.compliance.application.ports import AuditLog, MissingNodesError
from shared.tlog.tree import NodeKey, consistency_ranges, inclusion_ranges, nodes_of, range_hash


async def inclusion_proof(log: AuditLog, leaf_index: int, tree_size: int) -> list[bytes]:
    """The hashes that prove leaf ``leaf_index`` is in the tree of ``tree_size``."""
    if leaf_index >= tree_size:
        raise OutOfRangeError("leaf_index", f"leaf {leaf_index} is not in a tree of {tree_size}")
    ranges = inclusion_ranges(leaf_index, tree_size)
    nodes = await _nodes(log, nodes_of(ranges), "tree_size", tree_size)
    return [range_hash(start, end, nodes) for start, end in ranges]


async def consistency_proof(log: AuditLog, first: int, second: int) -> list[bytes]:
    """The hashes of RFC 9162's PROOF(first, D[second])."""
    if first > second:
        raise OutOfRangeError("first", f"first ({first}) is larger than second ({second})")
    ranges = consistency_ranges(0, first, second)
    nodes = await _nodes(log, nodes_of(ranges), "second", second)
    return [range_hash(start, end, nodes) for start, end in ranges]


async def _nodes(
    log: AuditLog, keys: set[NodeKey], parameter: str, size: int
) -> dict[NodeKey, bytes]:
    """The proof's nodes in one read; missing ones mean a tree larger than the log."""
    try:
        return await log.nodes(keys)
    except MissingNodesError:
        if size > (await log.head()).size:
            raise OutOfRangeError(parameter, f"the log has fewer than {size} entries") from None
        raise
