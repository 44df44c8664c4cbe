"""RFC 9162 Merkle tree hashing and proof verification, free of I/O.

Leaf hash ``SHA-256(0x00 ‖ entry)``, node hash ``SHA-256(0x01 ‖ left ‖ right)``, the hash of
the empty tree ``SHA-256("")``. Besides RFC 9162's inclusion and consistency proofs, the
subtree proofs of the Merkle Tree Certificates draft are verified too: a consistency proof from
size ``m`` is the subtree consistency proof of ``[0, m)``, so one recursion serves both.
"""

import hashlib
from collections.abc import Iterator, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims (or parameters no proof could satisfy)."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` > 1): where RFC 9162 splits."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves, computed from scratch (the offline verifier's full check)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])  # a lone right node is promoted unchanged
        level = paired
    return level[0]


def is_valid_subtree(start: int, end: int) -> bool:
    """``[start, end)`` is a subtree: ``start`` is a multiple of ``BIT_CEIL(end - start)``."""
    if start < 0 or start > end:
        return False
    size = end - start
    return size == 0 or start % (1 << (size - 1).bit_length()) == 0


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` puts ``leaf`` at ``index`` of the tree."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    if any(len(h) != HASH_SIZE for h in (leaf, root, *proof)):
        raise ProofError(f"every hash of an inclusion proof has {HASH_SIZE} bytes")
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("the inclusion proof does not lead to the root")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    inner = (index ^ (size - 1)).bit_length()  # levels where the path has a right sibling
    border = bin(index >> inner).count("1")  # levels on the right edge
    if len(proof) != inner + border:
        raise ProofError(f"an inclusion proof here has {inner + border} hashes, not {len(proof)}")
    hashed = leaf
    for level, sibling in enumerate(proof[:inner]):
        is_right_child = (index >> level) & 1
        hashed = node_hash(sibling, hashed) if is_right_child else node_hash(hashed, sibling)
    for sibling in proof[inner:]:
        hashed = node_hash(sibling, hashed)
    return hashed


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf: bytes, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    """A leaf inside the subtree ``[start, end)``, whose hash is ``subtree_root``."""
    if not is_valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a subtree")
    if not start <= index < end:
        raise ProofError(f"leaf index {index} is outside [{start}, {end})")
    verify_inclusion(index - start, end - start, leaf, proof, subtree_root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise :class:`ProofError` unless the tree of ``size2`` extends the tree of ``size1``."""
    if size1 == 0:
        raise ProofError("consistency with the empty tree proves nothing")
    verify_subtree_consistency(0, size1, size2, proof, root1, root2)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes, root: bytes
) -> None:
    """The subtree ``[start, end)`` hashing to ``subtree_root`` is in the tree ``(size, root)``."""
    if not is_valid_subtree(start, end) or end > size:
        raise ProofError(f"[{start}, {end}) is not a subtree of a tree of {size}")
    if start == end:
        if proof or subtree_root != EMPTY_ROOT:
            raise ProofError("an empty subtree hashes to the empty root, with no proof")
        return
    hashes = iter(proof)
    old, new = _rebuild(start, end, size, subtree_root, True, hashes)
    if next(hashes, None) is not None:
        raise ProofError("the consistency proof has hashes left over")
    if old != subtree_root:
        raise ProofError("the consistency proof does not lead to the first root")
    if new != root:
        raise ProofError("the consistency proof does not lead to the second root")


def _rebuild(
    start: int, end: int, size: int, known: bytes, is_known: bool, hashes: Iterator[bytes]
) -> tuple[bytes, bytes]:
    """(hash of ``[start, end)``, hash of ``[0, size)``) replayed along the proof's recursion:
    the innermost proof hash comes first, each level appends its sibling."""
    if start == 0 and end == size:
        current = known if is_known else _take(hashes)
        return current, current
    split = split_point(size)
    if end <= split:
        old, new = _rebuild(start, end, split, known, is_known, hashes)
        return old, node_hash(new, _take(hashes))
    if start >= split:
        old, new = _rebuild(start - split, end - split, size - split, known, is_known, hashes)
        return old, node_hash(_take(hashes), new)
    old, new = _rebuild(0, end - split, size - split, known, False, hashes)  # start == 0 here
    left = _take(hashes)
    return node_hash(left, old), node_hash(left, new)


def _take(hashes: Iterator[bytes]) -> bytes:
    taken = next(hashes, None)
    if taken is None:
        raise ProofError("the consistency proof is too short")
    return taken
