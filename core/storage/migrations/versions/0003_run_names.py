"""Runs get a name and a note the user gives them in the runs list.

Revision ID: 0003_run_names
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_run_names"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("name")
