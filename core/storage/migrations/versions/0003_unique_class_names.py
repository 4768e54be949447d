"""Live class names are unique: duplicates that two processes made at once are merged, every label kept.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "ux_classes_live_name"


def upgrade() -> None:
    conn = op.get_bind()
    duplicates = conn.execute(sa.text(
        "SELECT name, MIN(id) FROM classes WHERE deleted = 0 GROUP BY name HAVING COUNT(*) > 1")).all()
    for name, keep in duplicates:
        others = [row[0] for row in conn.execute(
            sa.text("SELECT id FROM classes WHERE deleted = 0 AND name = :name AND id != :keep"),
            {"name": name, "keep": keep})]
        for other in others:
            # Every reference moves to the class kept: labels, their history (so undo stays right), predictions.
            for table, column in (("images", "class_id"), ("label_changes", "old_class_id"),
                                  ("label_changes", "new_class_id"), ("predictions", "predicted_class_id")):
                conn.execute(sa.text(f"UPDATE {table} SET {column} = :keep WHERE {column} = :other"),
                             {"keep": keep, "other": other})
            conn.execute(sa.text("DELETE FROM classes WHERE id = :other"), {"other": other})
    op.create_index(INDEX, "classes", ["name"], unique=True, sqlite_where=sa.text("deleted = 0"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="classes")
