"""ledger: the references of transfers and holds checked once a statement on PostgreSQL

Why: a foreign key is checked by a row trigger, one SPI query and one row lock per row and key.
A group commit writes ~560 transfer legs and ~600 holds a batch of 1,000 orders, and their six
foreign keys cost the server 17 ms of the 24 ms a transfer insert takes (EXPLAIN ANALYZE,
bench/exchange.md). The same rule is kept, checked set-wise: after each statement that inserts or
updates rows of `transfers` or `holds`, one query locks the referenced accounts and instruments
FOR KEY SHARE (as the row checks do, so a concurrent delete or key change waits) and refuses the
statement if any is missing; after each statement that deletes or re-keys rows of `accounts` or
`instruments`, one query refuses it if a transfer or hold still names a removed key. The errors
are PostgreSQL's own foreign_key_violation (SQLSTATE 23503), naming the same constraint, so the
driver raises the same IntegrityError. SQLite keeps its declared foreign keys (cheap there), and
`db/tables.py` still declares them, for both.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (constraint, referencing table, column, referenced table): the foreign keys of 0001 replaced
# here. A snapshot: later migrations change their own copy, never this one.
REPLACED = (
    ("fk_transfers_debit_account_accounts", "transfers", "debit_account", "accounts"),
    ("fk_transfers_credit_account_accounts", "transfers", "credit_account", "accounts"),
    ("fk_transfers_instrument_id_instruments", "transfers", "instrument_id", "instruments"),
    ("fk_holds_account_id_accounts", "holds", "account_id", "accounts"),
    ("fk_holds_instrument_id_instruments", "holds", "instrument_id", "instruments"),
    ("fk_holds_pledgee_account_accounts", "holds", "pledgee_account", "accounts"),
)
REFERENCING = ("transfers", "holds")
REFERENCED = ("accounts", "instruments")


def _keys_named(table: str) -> list[tuple[str, str, str]]:
    return [(name, column, target) for name, source, column, target in REPLACED if source == table]


def _referencing_check(table: str) -> str:
    """A statement trigger function: lock what the new rows name, refuse the first missing key."""
    steps = []
    for name, column, target in _keys_named(table):
        steps.append(f"""
    PERFORM 1 FROM {target} AS t
        WHERE t.id IN (SELECT n.{column} FROM new_rows AS n WHERE n.{column} IS NOT NULL)
        ORDER BY t.id FOR KEY SHARE;
    SELECT n.{column} INTO missing FROM new_rows AS n
        WHERE n.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t.id = n.{column})
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "{table}" violates foreign key constraint "{name}"'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{name}', TABLE = '{table}',
                  COLUMN = '{column}',
                  DETAIL = format('Key ({column})=(%s) is not present in table "{target}".', missing);
    END IF;""")
    return _trigger_function(f"cm_check_{table}_references", "missing", steps)


def upgrade() -> None:
    """Replace the row foreign keys by statement checks, on PostgreSQL only."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in REFERENCING:
        op.execute(_referencing_check(table))
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER cm_{table}_references_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION cm_check_{table}_references()"
            )
    for target in REFERENCED:
        for event, function in (("DELETE", "deleted"), ("UPDATE", "rekeyed")):
            op.execute(_removed_keys_check(target, function))
            transition = "OLD TABLE AS old_rows" + (" NEW TABLE AS new_rows" if event == "UPDATE" else "")
            op.execute(
                f"CREATE TRIGGER cm_{target}_{function} AFTER {event} ON {target} "
                f"REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION cm_check_{target}_{function}()"
            )
    for name, table, _column, _target in REPLACED:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")


def _removed_keys_check(target: str, function: str) -> str:
    """Refuse a statement that deletes (or re-keys) a row of `target` whose key is still named."""
    if function == "deleted":
        gone = "SELECT o.id FROM old_rows AS o"
    else:  # an update removes the old keys that no new row carries
        gone = "SELECT o.id FROM old_rows AS o EXCEPT SELECT n.id FROM new_rows AS n"
    steps = []
    for name, source, column, referenced in REPLACED:
        if referenced != target:
            continue
        steps.append(f"""
    SELECT g.id INTO named FROM ({gone}) AS g
        WHERE EXISTS (SELECT 1 FROM {source} AS s WHERE s.{column} = g.id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION
          'update or delete on table "{target}" violates foreign key constraint "{name}" on table "{source}"'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{name}', TABLE = '{target}',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "{source}".', named);
    END IF;""")
    return _trigger_function(f"cm_check_{target}_{function}", "named", steps)


def _trigger_function(name: str, variable: str, steps: list[str]) -> str:
    """A statement trigger function of one text variable that runs its checks and returns nothing."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $function$
DECLARE
    {variable} text;
BEGIN{"".join(steps)}
    RETURN NULL;
END
$function$"""


def downgrade() -> None:
    """Put the row foreign keys back and drop the statement checks."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, column, target in REPLACED:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {target} (id)"
        )
    for target in REFERENCED:
        for function in ("deleted", "rekeyed"):
            op.execute(f"DROP TRIGGER IF EXISTS cm_{target}_{function} ON {target}")
            op.execute(f"DROP FUNCTION IF EXISTS cm_check_{target}_{function}()")
    for table in REFERENCING:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS cm_{table}_references_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS cm_check_{table}_references()")
