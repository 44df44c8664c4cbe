"""Each agency's open accounts counted in a row of its own (``agency_open_accounts``), kept by
statement triggers on ``assignments`` in the transaction of every write that places, ends or
removes an assignment: capacity is read from one row per agency instead of a scan of every
assignment. Backfilled from the assignments open now.

The triggers aggregate each statement's transition tables (one counter write per agency per
statement, whatever the number of rows), and write the counters in agency order (two
transactions changing several agencies lock them in the same order).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# The change of each agency's open accounts a statement made: +1 per open row it wrote, -1 per
# open row it replaced or removed. ``new_rows``/``old_rows`` are the statement's transition
# tables (only those its operation has are read).
COUNT = """
CREATE FUNCTION count_open_assignments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO agency_open_accounts AS counted (agency_id, open_accounts)
        SELECT agency_id, count(*) FROM new_rows WHERE ended_at IS NULL
        GROUP BY agency_id ORDER BY agency_id
        ON CONFLICT (agency_id)
        DO UPDATE SET open_accounts = counted.open_accounts + excluded.open_accounts;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO agency_open_accounts AS counted (agency_id, open_accounts)
        SELECT agency_id, sum(delta) FROM (
            SELECT agency_id, 1 AS delta FROM new_rows WHERE ended_at IS NULL
            UNION ALL
            SELECT agency_id, -1 AS delta FROM old_rows WHERE ended_at IS NULL
        ) changed
        GROUP BY agency_id HAVING sum(delta) <> 0 ORDER BY agency_id
        ON CONFLICT (agency_id)
        DO UPDATE SET open_accounts = counted.open_accounts + excluded.open_accounts;
    ELSE
        UPDATE agency_open_accounts AS counted
        SET open_accounts = counted.open_accounts - gone.open_accounts
        FROM (
            SELECT agency_id, count(*) AS open_accounts FROM old_rows WHERE ended_at IS NULL
            GROUP BY agency_id ORDER BY agency_id
        ) gone
        WHERE counted.agency_id = gone.agency_id;
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "assignments_counted_insert": "AFTER INSERT ON assignments REFERENCING NEW TABLE AS new_rows",
    "assignments_counted_update": (
        "AFTER UPDATE ON assignments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "assignments_counted_delete": "AFTER DELETE ON assignments REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "agency_open_accounts",
        sa.Column("agency_id", sa.Text(), nullable=False),
        sa.Column("open_accounts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name="pk_agency_open_accounts"),
    )
    op.execute("LOCK TABLE assignments IN SHARE ROW EXCLUSIVE MODE")  # no write between the two
    op.execute(
        "INSERT INTO agency_open_accounts (agency_id, open_accounts) "
        "SELECT agency_id, count(*) FROM assignments WHERE ended_at IS NULL GROUP BY agency_id"
    )
    op.execute(COUNT)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION count_open_assignments()"
        )


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON assignments")
    op.execute("DROP FUNCTION count_open_assignments()")
    op.drop_table("agency_open_accounts")
