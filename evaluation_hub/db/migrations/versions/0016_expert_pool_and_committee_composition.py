"""the expert pool (former employers, phone, specialties), the credit blacklist, the bidders of
an attached package, committee member kinds and the session's procurement type and budget

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experts") as batch:
        batch.add_column(
            sa.Column("phone", sa.String(length=32), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("specialties", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("in_pool", sa.Boolean(), server_default="1", nullable=False))
    op.execute("UPDATE experts SET specialties = '[]'")
    with op.batch_alter_table("experts") as batch:
        batch.alter_column("specialties", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("evaluation_sessions") as batch:
        batch.add_column(
            sa.Column(
                "procurement_type",
                sa.String(length=20),
                server_default="engineering",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True))
        batch.add_column(
            sa.Column("representatives", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column(
                "representatives_may_chair", sa.Boolean(), server_default="1", nullable=False
            )
        )
        batch.create_check_constraint(
            op.f("ck_evaluation_sessions_procurement_type"),
            "procurement_type IN ('engineering', 'government')",
        )
    with op.batch_alter_table("session_experts") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=30), server_default="expert", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_session_experts_kind"), "kind IN ('expert', 'tenderer_representative')"
        )
    op.create_table(
        "expert_former_employers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column("employer", sa.String(length=200), nullable=False),
        sa.Column("left_year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_former_employers_expert_id_experts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_former_employers")),
    )
    op.create_index(
        op.f("ix_expert_former_employers_expert_id"),
        "expert_former_employers",
        ["expert_id"],
    )
    op.create_table(
        "credit_blacklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=400), nullable=False),
        sa.Column("expert_code", sa.String(length=32), server_default="", nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("employer", sa.String(length=200), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_blacklist")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_credit_blacklist_entry_key")),
    )
    op.create_table(
        "session_bidders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("bidder_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["evaluation_sessions.id"],
            name=op.f("fk_session_bidders_session_id_evaluation_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_bidders")),
        sa.UniqueConstraint("session_id", "bidder_id", name=op.f("uq_session_bidders_session_id")),
    )
    op.create_index(op.f("ix_session_bidders_session_id"), "session_bidders", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_session_bidders_session_id"), table_name="session_bidders")
    op.drop_table("session_bidders")
    op.drop_table("credit_blacklist")
    op.drop_index(
        op.f("ix_expert_former_employers_expert_id"), table_name="expert_former_employers"
    )
    op.drop_table("expert_former_employers")
    with op.batch_alter_table("session_experts") as batch:
        batch.drop_constraint(op.f("ck_session_experts_kind"), type_="check")
        batch.drop_column("kind")
    with op.batch_alter_table("evaluation_sessions") as batch:
        batch.drop_constraint(op.f("ck_evaluation_sessions_procurement_type"), type_="check")
        batch.drop_column("representatives_may_chair")
        batch.drop_column("representatives")
        batch.drop_column("budget")
        batch.drop_column("procurement_type")
    with op.batch_alter_table("experts") as batch:
        batch.drop_column("in_pool")
        batch.drop_column("specialties")
        batch.drop_column("phone")
