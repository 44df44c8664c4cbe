"""A transparency log's pure parts: RFC 9162 Merkle trees with stored nodes, and C2SP signed
checkpoints. See shared/tlog/README.md."""
