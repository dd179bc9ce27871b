"""The permit's life: status changes, invalid document numbers, violations, card collections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Written by hand, like 0001; the ORM classes are in ``activities/permits.py`` (on the
registry's ``Base``), and ``tests/unit/test_registry_db.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _case_fk(table: str, column: str = "application_id") -> sa.ForeignKey:
    # Named as the ORM's naming convention names it, so later migrations can drop it.
    return sa.ForeignKey("cases.application_id", name=f"fk_{table}_{column}_cases")


def upgrade() -> None:
    op.create_table(
        "permit_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(32), _case_fk("permit_status_changes"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("permit_type", sa.String(4), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("withdrawal_ground", sa.String(32), nullable=True),
        sa.Column("changed_at", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_permit_status_changes"),
        sa.UniqueConstraint("application_id", "key", name="uq_permit_status_changes_application_id_key"),
    )
    op.create_table(
        "permit_invalid_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_number", sa.String(16), nullable=False),
        sa.Column("application_id", sa.String(32), _case_fk("permit_invalid_documents"), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("invalidated_at", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_permit_invalid_documents"),
        sa.UniqueConstraint("document_number", name="uq_permit_invalid_documents_document_number"),
    )
    op.create_table(
        "permit_violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(32), _case_fk("permit_violations"), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("change_kind", sa.String(100), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("warning_valid_until", sa.Date(), nullable=True),
        sa.Column("fine_maximum_eur", sa.Numeric(9, 2), nullable=True),
        sa.Column("fine_status", sa.String(16), nullable=True),
        sa.Column("fine_amount_eur", sa.Numeric(9, 2), nullable=True),
        sa.Column("fine_decided_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_permit_violations"),
        sa.UniqueConstraint("application_id", "sequence", name="uq_permit_violations_application_id_sequence"),
    )
    op.create_table(
        "permit_card_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_number", sa.String(16), nullable=False),
        sa.Column("application_id", sa.String(32), _case_fk("permit_card_collections"), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_permit_card_collections"),
        sa.UniqueConstraint("document_number", name="uq_permit_card_collections_document_number"),
    )


def downgrade() -> None:
    for table in ("permit_card_collections", "permit_violations", "permit_invalid_documents", "permit_status_changes"):
        op.drop_table(table)
