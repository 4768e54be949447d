"""Indexes for sorting the grid by size and date, and for undo/redo of large batches.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch_op:
        batch_op.create_index("ix_images_size", ["size"])
        batch_op.create_index("ix_images_mtime", ["mtime"])
    op.create_index("ix_label_changes_batch_image", "label_changes", ["batch_id", "image_id"])


def downgrade() -> None:
    op.drop_index("ix_label_changes_batch_image", table_name="label_changes")
    with op.batch_alter_table("images") as batch_op:
        batch_op.drop_index("ix_images_mtime")
        batch_op.drop_index("ix_images_size")
