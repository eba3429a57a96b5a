"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from alembic import op

from modelreg.db.ddl import set_local_lock_timeout

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    set_local_lock_timeout()
    ${upgrades if upgrades else "raise NotImplementedError"}


def downgrade() -> None:
    set_local_lock_timeout()
    ${downgrades if downgrades else "raise NotImplementedError"}
