"""The audit log becomes a Merkle tree: stored nodes, its root, signed checkpoints; entries get
the loan, agency and borrower pseudonym their filters read (backfilled from the entries).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from shared.tlog.merkle import EMPTY_ROOT
from shared.tlog.tree import append_leaves, range_nodes

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    for column in ("loan_id", "agency_id", "borrower_ref"):
        op.add_column("audit_entries", sa.Column(column, sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE audit_entries SET
          loan_id = convert_from(entry, 'UTF8')::jsonb -> 'data' ->> 'loan_id',
          agency_id = convert_from(entry, 'UTF8')::jsonb -> 'data' ->> 'agency_id',
          borrower_ref = coalesce(
            convert_from(entry, 'UTF8')::jsonb -> 'data' ->> 'borrower_ref',
            convert_from(entry, 'UTF8')::jsonb -> 'data' -> 'borrower' ->> 'ref')
        """
    )
    op.create_index(
        "ix_audit_entries_loan", "audit_entries", ["tenant_id", "loan_id", "leaf_index"]
    )
    op.create_index(
        "ix_audit_entries_borrower", "audit_entries", ["tenant_id", "borrower_ref", "leaf_index"]
    )
    op.create_index("ix_audit_entries_agency", "audit_entries", ["agency_id", "leaf_index"])
    nodes = op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_merkle_nodes"),
        comment="complete perfect subtrees: node (level, idx) hashes leaves "
        "[idx<<level, (idx+1)<<level)",
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, comment="the C2SP signed checkpoint"),
        sa.PrimaryKeyConstraint("tree_size", name="pk_checkpoints"),
    )
    root = _build_tree(nodes)
    op.add_column(
        "log_state",
        sa.Column("root_hash", sa.LargeBinary(), nullable=True),
    )
    op.execute(sa.text("UPDATE log_state SET root_hash = :root").bindparams(root=root))
    op.alter_column("log_state", "root_hash", nullable=False)


def _build_tree(nodes: sa.Table) -> bytes:
    """The nodes of the entries already logged, appended in batches as the service would."""
    connection = op.get_bind()
    size, known, root = 0, {}, EMPTY_ROOT
    while True:
        leaves = connection.execute(
            sa.text(
                "SELECT leaf_hash FROM audit_entries WHERE leaf_index >= :size "
                "ORDER BY leaf_index LIMIT :batch"
            ),
            {"size": size, "batch": BATCH},
        ).scalars()
        batch = list(leaves)
        if not batch:
            return root
        appended = append_leaves(size, {k: known[k] for k in range_nodes(0, size)}, batch)
        op.bulk_insert(
            nodes,
            [{"level": level, "idx": i, "hash": h} for (level, i), h in appended.nodes.items()],
        )
        known = {
            k: v
            for k, v in {**known, **appended.nodes}.items()
            if k in range_nodes(0, appended.size)
        }
        size, root = appended.size, appended.root


def downgrade() -> None:
    op.drop_column("log_state", "root_hash")
    op.drop_table("checkpoints")
    op.drop_table("merkle_nodes")
    for index in ("ix_audit_entries_agency", "ix_audit_entries_borrower", "ix_audit_entries_loan"):
        op.drop_index(index, table_name="audit_entries")
    for column in ("borrower_ref", "agency_id", "loan_id"):
        op.drop_column("audit_entries", column)
