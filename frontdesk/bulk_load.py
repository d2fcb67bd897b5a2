"""Loading many rows into PostgreSQL fast: COPY, with the tables' secondary indexes built once afterwards.

Used by `manage.py seed_bench`, which writes a clinic chain's worth of rows
at once. Row by row, every insert would update a dozen indexes and fire a
foreign-key trigger per reference; here:

- `BulkLoad.begin()` drops the loaded tables' secondary indexes and their
  unique and exclusion constraints (primary keys stay), remembering each
  definition as PostgreSQL prints it;
- `copy_rows()` streams rows with COPY; as a superuser the foreign-key
  triggers are off for the loading transaction (`session_replication_role =
  replica`), so the caller answers for the references (the seeder writes
  only rows it made itself);
- `BulkLoad.rebuild()` builds the indexes and constraints again from those
  definitions, two at a time on their own connections, largest table first,
  so a rebuilt unique or exclusion constraint still checks every row.

Nothing here is used by the clinic's own requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections
from django.db.models import Model


@dataclass(frozen=True)
class Deferred:
    """One index or constraint dropped for the load, with the statement that builds it again."""

    table: str
    name: str
    create_sql: str


@dataclass
class BulkLoad:
    """The secondary indexes and constraints of `models`' tables, dropped for a load and built again after it."""

    models: Sequence[type[Model]]
    deferred: list[Deferred] = field(default_factory=list)

    @property
    def tables(self) -> list[str]:
        return [model._meta.db_table for model in self.models]

    def begin(self) -> None:
        """Drop the tables' secondary indexes and unique/exclusion constraints (inside the loading transaction)."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'x')
                """,
                [self.tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                """
                SELECT i.indrelid::regclass::text, c.relname, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                """,
                [self.tables],
            )
            indexes = cursor.fetchall()
            quote = connection.ops.quote_name
            for table, name, definition in constraints:
                self.deferred.append(
                    Deferred(table, name, f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
                )
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
            for table, name, definition in indexes:
                self.deferred.append(Deferred(table, name, definition))
                cursor.execute(f"DROP INDEX {quote(name)}")

    def rebuild(self, *, workers: int = 2) -> None:
        """Build every dropped index and constraint again (after the load committed), `workers` at a time.

        Each worker has a connection of its own; the largest tables' indexes go
        first so the two finish together.
        """
        sizes = _table_sizes(self.tables)
        pending = sorted(self.deferred, key=lambda item: sizes.get(item.table, 0), reverse=True)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with connections["default"].cursor() as cursor:
                    # A sort in memory, not on disk; the workers share the cores, not one each.
                    cursor.execute("SET maintenance_work_mem = '512MB'")
                    cursor.execute("SET max_parallel_maintenance_workers = 0")
                    while True:
                        with lock:
                            if not pending or errors:
                                return
                            item = pending.pop(0)
                        cursor.execute(item.create_sql)
            except BaseException as error:  # noqa: BLE001 - handed to the main thread, raised there
                errors.append(error)
            finally:
                connections["default"].close()

        threads = [threading.Thread(target=work, name=f"index-rebuild-{n}") for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]


def _table_sizes(tables: Sequence[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE oid = ANY(%s::regclass[])", [list(tables)]
        )
        return dict(cursor.fetchall())


def is_superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def skip_foreign_key_checks() -> None:
    """For the rest of this transaction, rows are written without their foreign-key triggers (superuser only)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")


def copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], *, freeze: bool) -> int:
    """COPY `rows` (tuples of Python values, in `columns`' order) into `model`'s table; return how many.

    `freeze` writes them already frozen and visible to all (COPY FREEZE: the
    table must have been truncated in this transaction), so no VACUUM has to
    visit them before index-only scans can skip the table.
    """
    quote = connection.ops.quote_name
    statement = (
        f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        + (" (FREEZE)" if freeze else "")
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def truncate_if_empty(models: Sequence[type[Model]]) -> bool:
    """Truncate the tables of `models` (for COPY FREEZE) when they and every table that refers to them are empty.

    Return True if they were truncated. A table with rows anywhere among them
    (a seed on top of data, with --force) is left alone, and False returned.
    """
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE referring(oid) AS (
                SELECT oid FROM pg_class WHERE oid = ANY(%s::regclass[])
                UNION
                SELECT c.conrelid FROM pg_constraint c JOIN referring r ON c.confrelid = r.oid WHERE c.contype = 'f'
            )
            SELECT oid::regclass::text FROM referring
            """,
            [tables],
        )
        affected = [row[0] for row in cursor.fetchall()]
        for table in affected:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 - names from pg_class
            row = cursor.fetchone()
            if row and row[0]:
                return False
        cursor.execute(f"TRUNCATE {', '.join(affected)}")
    return True


def analyze(models: Sequence[type[Model]]) -> None:
    """Fresh planner statistics for the loaded tables (autovacuum would get there, later)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")


class Stopwatch:
    """Seconds per phase, in the order the phases ran."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._started = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        elapsed = now - self._started
        self.phases[name] = self.phases.get(name, 0.0) + elapsed
        self._started = now
        return elapsed
