"""``api_keys`` becomes the copy of the credential registry (keys seeded here alone go).

Revision ID: 0004
Revises: 0003
"""

from shared.db.kit_migrations import api_keys_become_registry_mirror_v4, api_keys_stop_mirroring_v4

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    api_keys_become_registry_mirror_v4()


def downgrade() -> None:
    api_keys_stop_mirroring_v4()
