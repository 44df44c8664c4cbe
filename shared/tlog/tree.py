"""Where a log's hashes live: stored perfect-subtree nodes, and which of them a proof reads.

A node ``(level, index)`` is the hash of the ``2**level`` leaves from ``index << level``; it is
stored once complete and never changes. Any range a proof needs hashes from a handful of such
nodes (``O(log n)``), so a proof costs one indexed read however large the log. Pure: the
adapter fetches the nodes named here.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.tlog.merkle import EMPTY_ROOT, node_hash, split_point

NodeKey = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


def range_nodes(start: int, end: int) -> list[NodeKey]:
    """The perfect nodes covering ``[start, end)``, largest first (``start`` aligned, as in
    every range a proof or a tree head names)."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH of ``[start, end)`` from its stored nodes: folded from the right, as RFC 9162 splits."""
    keys = range_nodes(start, end)
    if not keys:
        return EMPTY_ROOT
    hashed = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        hashed = node_hash(nodes[key], hashed)
    return hashed


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes make RFC 9162's PATH(index, D[size]), leaf's sibling first."""
    ranges: list[Range] = []
    low, high = 0, size
    while high - low > 1:
        split = low + split_point(high - low)
        if index < split:
            ranges.append((split, high))
            high = split
        else:
            ranges.append((low, split))
            low = split
    return ranges[::-1]


def consistency_ranges(start: int, end: int, size: int) -> list[Range]:
    """The ranges of the subtree consistency proof of ``[start, end)`` in the tree of ``size``
    (RFC 9162's PROOF(end, D[size]) when ``start`` is 0)."""
    ranges: list[Range] = []
    low, high, known = 0, size, True
    while not (start == low and end == high):
        split = low + split_point(high - low)
        if end <= split:
            ranges.append((split, high))
            high = split
        elif start >= split:
            ranges.append((low, split))
            low = split
        else:  # the subtree straddles the split: only its right part is still to prove
            ranges.append((low, split))
            low, start, known = split, split, False
    if not known:
        ranges.append((low, high))
    return ranges[::-1]


def nodes_of(ranges: Sequence[Range]) -> set[NodeKey]:
    return {key for start, end in ranges for key in range_nodes(start, end)}


@dataclass(frozen=True)
class Appended:
    nodes: dict[NodeKey, bytes]  # every node completed by the append, leaves included
    root: bytes
    size: int


def append_leaves(
    size: int, frontier: Mapping[NodeKey, bytes], leaves: Sequence[bytes]
) -> Appended:
    """Append leaf hashes to a tree of ``size`` whose right edge (``range_nodes(0, size)``) is
    ``frontier``: the nodes to store and the new root."""
    stack = [(level, index, frontier[(level, index)]) for level, index in range_nodes(0, size)]
    created: dict[NodeKey, bytes] = {}
    for offset, leaf in enumerate(leaves):
        stack.append((0, size + offset, leaf))
        created[(0, size + offset)] = leaf
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            level, index, right = stack.pop()
            _, _, left = stack.pop()
            merged = (level + 1, index >> 1, node_hash(left, right))
            stack.append(merged)
            created[(merged[0], merged[1])] = merged[2]
    root = EMPTY_ROOT
    if stack:
        root = stack[-1][2]
        for _, _, hashed in reversed(stack[:-1]):
            root = node_hash(hashed, root)
    return Appended(created, root, size + len(leaves))
