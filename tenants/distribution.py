"""Schema operations that keep tenant tables distributable by ``org_id`` (Citus).

A distributed table's primary key, unique constraints and the foreign keys between two
distributed tables must include the distribution column (docs/scaling.md). Django 5.2 keeps a
single-column ``id`` as the model's pk, so the database's constraints are set here and Django's
state is left as it is:

    operations = [OrgPrimaryKey("datastore_record"),
                  OrgForeignKey("datastore_record", "collection_id", "datastore_collection")]

The primary key is ``(id, org_id)``: it includes ``org_id`` as Citus requires, and ``id`` leads so
that a lookup by id alone (a client app's, whose policy filters by project, not org) still finds
the row through the key's index. A foreign key ``(org_id, x_id) -> (org_id, id)`` matches that
key (PostgreSQL pairs referenced columns with a unique index in any order).

The ForeignKey fields these constraints replace have ``db_constraint=False``; Django still
cascades (and sets NULL) in Python, so the constraints carry no ON DELETE action except where
the database itself nulls a column (``set_null``), and then only that column, never ``org_id``.
``tests/tenants/test_distributable_schema.py`` checks the result in the catalog.
"""

from django.db import migrations


class OrgPrimaryKey(migrations.RunSQL):
    """Make ``table``'s primary key ``(id, org_id)`` (reversible to ``(id)``)."""

    def __init__(self, table: str):
        def swap(columns: str) -> str:
            return (
                f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                f"ADD CONSTRAINT {table}_pkey PRIMARY KEY ({columns})"
            )

        super().__init__(sql=swap("id, org_id"), reverse_sql=swap("id"))
        self.table = table

    def describe(self) -> str:
        return f"Primary key (id, org_id) on {self.table}"


class OrgForeignKey(migrations.RunSQL):
    """``table (org_id, column) -> target (org_id, id)``, deferred like Django's own."""

    def __init__(self, table: str, column: str, target: str, *, set_null: bool = False):
        name = f"{table}_{column}_org_fk"
        on_delete = f" ON DELETE SET NULL ({column})" if set_null else ""
        super().__init__(
            sql=(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (org_id, {column}) "
                f"REFERENCES {target} (org_id, id){on_delete} DEFERRABLE INITIALLY DEFERRED"
            ),
            reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
        )
        self.table, self.column, self.target = table, column, target

    def describe(self) -> str:
        return f"Foreign key {self.table} (org_id, {self.column}) -> {self.target} (org_id, id)"
