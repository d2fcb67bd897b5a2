"""Loading many rows into PostgreSQL fast: COPY, with the tables' secondary indexes built once afterwards.

Used by `manage.py seed_bench`, which writes a clinic chain's worth of rows
at once. Row by row, every insert would update a dozen indexes and fire a
foreign-key trigger per reference; here:

- `BulkLoad.begin()` drops the loaded tables' secondary indexes and their
  unique and exclusion constraints (primary keys stay), remembering how to
  build each again: the statement Django's migration ran for those a model
  declares, PostgreSQL's own definition for the rest;
- `copy_from_workers()` has forked workers make up the rows and format them
  for a binary COPY, and copies them in as they come (COPY FREEZE when the
  tables were empty and truncated in the transaction); as a superuser the
  foreign-key triggers are off for the loading transaction
  (`session_replication_role = replica`), so the caller answers for the
  references (the seeder writes only rows it made itself);
- `BulkLoad.rebuild()` builds the indexes and constraints again, two at a
  time on connections of their own; a rebuilt unique or exclusion
  constraint checks every row, so a clash the seeder made would fail there.

Nothing here is used by the clinic's own requests.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.queues
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection, connections
from django.db.models import Model
from psycopg.copy import FileWriter


@dataclass(frozen=True)
class Deferred:
    """One index or constraint dropped for the load, with the statement that builds it again."""

    table: str
    name: str
    kind: str  # "index", "unique" or "exclusion"
    create_sql: str


@dataclass
class BulkLoad:
    """The secondary indexes and constraints of `models`' tables, dropped for a load and built again after it."""

    models: Sequence[type[Model]]
    deferred: list[Deferred] = field(default_factory=list)
    build_seconds: dict[str, float] = field(default_factory=dict)  # by index or constraint name, once rebuilt

    @property
    def tables(self) -> list[str]:
        return [model._meta.db_table for model in self.models]

    def begin(self) -> None:
        """Drop the tables' secondary indexes and unique/exclusion constraints (inside the loading transaction)."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
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
            declared = _declared_sql(self.models)
            quote = connection.ops.quote_name
            for table, name, kind, definition in constraints:
                create = declared.get(name, f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
                self.deferred.append(Deferred(table, name, "exclusion" if kind == "x" else "unique", create))
                cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
            for table, name, definition in indexes:
                self.deferred.append(Deferred(table, name, "index", declared.get(name, definition)))
                cursor.execute(f"DROP INDEX {quote(name)}")

    def rebuild(self, *, workers: int = 2) -> None:
        """Build every dropped index and constraint again (after the load committed), `workers` at a time.

        Each worker has a connection of its own. Adding a constraint locks its
        table against every other build, so a worker takes the next item that
        does not wait for another's: the exclusion constraints first (each row
        is checked against the others: the longest), then the unique ones, then
        the plain indexes, largest table first. A GiST exclusion index is built
        by insertion (`buffering = off`), whose tree the check searches faster
        than a sorted build's, and then given back its default.
        """
        sizes = _table_sizes(self.tables)
        order = {"exclusion": 0, "unique": 1, "index": 2}
        pending = sorted(self.deferred, key=lambda item: (order[item.kind], -sizes.get(item.table, 0)))
        running: dict[str, list[str]] = {}  # table -> kinds being built on it
        lock = threading.Condition()
        errors: list[BaseException] = []

        def eligible(item: Deferred) -> bool:
            kinds = running.get(item.table, [])
            locks_table = item.kind != "index"
            return not kinds if locks_table else all(kind == "index" for kind in kinds)

        def work() -> None:
            try:
                with connections["default"].cursor() as cursor:
                    # A sort in memory, not on disk; the workers share the cores, not one each.
                    cursor.execute("SET maintenance_work_mem = '512MB'")
                    cursor.execute("SET max_parallel_maintenance_workers = 0")
                    while True:
                        with lock:
                            while True:
                                if not pending or errors:
                                    return
                                item = next((item for item in pending if eligible(item)), None)
                                if item is not None:
                                    break
                                lock.wait()
                            pending.remove(item)
                            running.setdefault(item.table, []).append(item.kind)
                        began = time.perf_counter()
                        try:
                            self._build(cursor, item)
                        finally:
                            with lock:
                                running[item.table].remove(item.kind)
                                lock.notify_all()
                        self.build_seconds[item.name] = time.perf_counter() - began
            except BaseException as error:  # handed to the main thread, raised there
                with lock:
                    errors.append(error)
                    lock.notify_all()
            finally:
                connections["default"].close()

        threads = [threading.Thread(target=work, name=f"index-rebuild-{n}") for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    @staticmethod
    def _build(cursor: Any, item: Deferred) -> None:
        if item.kind == "exclusion" and " USING gist " in item.create_sql and " WHERE " in item.create_sql:
            head, condition = item.create_sql.rsplit(" WHERE ", 1)
            cursor.execute(f"{head} WITH (buffering = off) WHERE {condition}")
            cursor.execute(f"ALTER INDEX {connection.ops.quote_name(item.name)} RESET (buffering)")
        else:
            cursor.execute(item.create_sql)


def _declared_sql(models: Sequence[type[Model]]) -> dict[str, str]:
    """The statement that creates each index and constraint `models` declare in their Meta, by name: what
    their migrations ran. (PostgreSQL's own definition of a partial index does not always read back into the
    same condition: `IN (...)` comes back as a differently cast array.) Field indexes have no condition, and
    are rebuilt from PostgreSQL's definition."""
    statements = {}
    with connection.schema_editor(collect_sql=True) as editor:
        for model in models:
            for index in model._meta.indexes:
                statements[index.name] = str(index.create_sql(model, editor))
            for constraint in model._meta.constraints:
                statement = constraint.create_sql(model, editor)
                if statement is not None:
                    statements[constraint.name] = str(statement)
    return statements


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


# What a worker makes: for each of its chunks, a block of binary COPY data per table, with its row count.
Blocks = dict[str, tuple[bytes, int]]
Produce = Callable[[int, int], Iterator[Mapping[type[Model], Sequence[Sequence[Any]]]]]


@dataclass
class CopyReport:
    counts: dict[type[Model], int]
    waiting_seconds: float  # for the workers to make rows
    copying_seconds: float  # for PostgreSQL to take them in


def copy_from_workers(
    produce: Produce, columns: Mapping[type[Model], Sequence[str]], *, workers: int, freeze: bool
) -> CopyReport:
    """COPY the rows `produce(index, workers)` makes in each of `workers` forked processes; return the counts.

    Each worker makes its share of the rows, a chunk at a time ({model:
    rows}, rows being tuples of Python values in `columns[model]`'s order),
    and formats each chunk into binary COPY data; this process copies the
    blocks in as they come, on its connection and in its transaction, so
    making up rows (in the workers) and taking them in (PostgreSQL) go on at
    once. `freeze`: COPY FREEZE (the tables were truncated in this
    transaction), so no VACUUM has to visit the rows before index-only scans
    can skip the heap.

    The workers are forked: they see what this process made before, and
    must not touch its database connection (they format on one of their own).
    """
    quote = connection.ops.quote_name
    tables = {model._meta.db_table: model for model in columns}
    statements = {
        model._meta.db_table: f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in names)}) FROM STDIN "
        + ("(FORMAT BINARY, FREEZE)" if freeze else "(FORMAT BINARY)")
        for model, names in columns.items()
    }
    types = {model._meta.db_table: _column_types(model, names) for model, names in columns.items()}
    params = {key: value for key, value in connection.get_connection_params().items() if key in CONNECT_KEYS}
    context = multiprocessing.get_context("fork")
    # Two chunks waiting per worker at most: the workers wait for PostgreSQL rather than fill the memory.
    results: multiprocessing.queues.Queue[tuple[str, Any]] = context.Queue(maxsize=2 * workers)
    processes = [
        context.Process(target=_work, args=(produce, index, workers, types, params, results), name=f"seed-{index}")
        for index in range(workers)
    ]
    report = CopyReport(counts=dict.fromkeys(columns, 0), waiting_seconds=0.0, copying_seconds=0.0)
    for process in processes:
        process.start()
    try:
        finished = 0
        with connection.cursor() as cursor:
            while finished < workers:
                began = time.perf_counter()
                try:
                    kind, payload = results.get(timeout=5)
                except queue.Empty:
                    if any(process.exitcode not in (None, 0) for process in processes):
                        raise RuntimeError("A seeding worker died.") from None
                    continue
                if kind == "error":
                    raise RuntimeError(f"A seeding worker failed:\n{payload}")
                report.waiting_seconds += time.perf_counter() - began
                if kind == "done":
                    finished += 1
                    continue
                began = time.perf_counter()
                for table, (data, count) in payload.items():
                    with cursor.cursor.copy(statements[table]) as copy:
                        copy.write(data)
                    report.counts[tables[table]] += count
                report.copying_seconds += time.perf_counter() - began
    finally:
        for process in processes:
            if process.is_alive() and finished < workers:
                process.terminate()
            process.join()
    return report


CONNECT_KEYS = ("dbname", "user", "password", "host", "port", "sslmode")


def _work(
    produce: Produce,
    index: int,
    workers: int,
    types: dict[str, list[str]],
    params: dict[str, Any],
    results: multiprocessing.queues.Queue[tuple[str, Any]],
) -> None:
    """A worker: make this share of the rows and hand each chunk over as binary COPY data."""
    try:
        # A connection only for the formatting (psycopg's adapters); no statement runs on it.
        with psycopg.connect(**params) as formatter:
            cursor = formatter.cursor()
            for chunk in produce(index, workers):
                blocks: Blocks = {}
                for model, rows in chunk.items():
                    data = io.BytesIO()
                    with psycopg.Copy(cursor, binary=True, writer=FileWriter(data)) as copy:
                        copy.set_types(types[model._meta.db_table])
                        for row in rows:
                            copy.write_row(row)
                    blocks[model._meta.db_table] = (data.getvalue(), len(rows))
                results.put(("chunk", blocks))
        results.put(("done", None))
    except BaseException:  # told to the parent, which stops
        results.put(("error", traceback.format_exc()))


def _column_types(model: type[Model], columns: Sequence[str]) -> list[str]:
    """PostgreSQL's type name of each of `columns` ("uuid", "varchar[]" …), for a binary COPY."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname, CASE WHEN t.typelem <> 0 AND t.typlen = -1
                                   THEN (SELECT e.typname FROM pg_type e WHERE e.oid = t.typelem) || '[]'
                                   ELSE t.typname END
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """,
            [model._meta.db_table],
        )
        types = dict(cursor.fetchall())
    return [types[column] for column in columns]


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
