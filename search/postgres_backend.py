"""A PostgreSQL full-text backend over the same jieba tokens, for a province-wide library (docs/scaling.md).

The analyzer (search/analysis.py) segments text in Python exactly as for Whoosh; PostgreSQL only
stores and matches the resulting lexemes (``tsvector`` literals, no PostgreSQL text parser, so no
zhparser/pg_jieba extension is needed on a locked-down or domestic PostgreSQL-compatible server).
Query planning and re-ranking are shared by every engine (search/planner.py, search/ranking.py): this
backend compiles the neutral :class:`search.reader.MatchQuery` to SQL (search/postgres_reader.py).

Tables (``table`` option, default ``kb_search``): ``<t>`` one row per document (one ``tsvector`` over
all field groups, each group's lexemes carrying a weight label A–D, GIN-indexed; facets and exact
values as ``jsonb``, GIN-indexed);
``<t>_terms`` document frequency per (term, group), kept exact on every write; ``<t>_words``
dictionary words; ``<t>_meta`` a version counter other processes use to refresh their caches.
Writers are serialised with a PostgreSQL advisory lock, so any number of app servers can share it.
Rebuilds fill fresh tables and swap them in with renames in one transaction.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from search.analysis import normalize
from search.base import Document, FieldSpec, IndexBusy
from search.engine import RankedBackend
from search.postgres_reader import PostgresReader, tsquery_literal, tsvector_literal
from search.reader import Vocabulary, stored_data

def _conninfo(dsn: str) -> str:
    """Accept SQLAlchemy URLs too (``postgresql+psycopg://…``)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres+psycopg://"):
        if dsn.startswith(prefix):
            return "postgresql://" + dsn[len(prefix):]
    return dsn


class PostgresBackend(RankedBackend):
    """Options: those of :class:`search.engine.RankedBackend`, ``dsn`` (libpq or SQLAlchemy URL;
    ``database_url`` is accepted as an alias), ``table``, ``write_timeout``, ``temporary`` (drop the tables
    at :meth:`close`)."""

    def __init__(self, fields: Iterable[FieldSpec] = (), dsn: str | None = None, table: str = "kb_search",
                 write_timeout: float = 30.0, temporary: bool = False, database_url: str | None = None, *,
                 candidates: int = 200, **options) -> None:
        super().__init__(fields, candidates=candidates, **options)
        dsn = dsn or database_url
        if not dsn:
            raise ValueError("PostgresBackend needs dsn (the PostgreSQL connection URL)")
        self.dsn = _conninfo(dsn)
        self.table = table
        self.write_timeout = write_timeout
        self.temporary = temporary  # drop the tables at close (tests, throwaway indexes)
        # PostgreSQL ranks with four weight labels: the strongest group gets A, the next B, C, the rest D;
        # each label weighs its strongest group's boost relative to the strongest of all (BM25F-like).
        ordered = sorted(self._groups, key=lambda g: -self._groups[g])
        self._labels = {group: "ABCD"[min(rank, 3)] for rank, group in enumerate(ordered)}
        top = max(self._groups.values(), default=1.0) or 1.0
        weights = {label: max((self._groups[g] for g in ordered if self._labels[g] == label), default=0.0) / top
                   for label in "ABCD"}
        self._weights = [max(weights[label], 0.01) for label in "DCBA"]  # ts_rank's order: {D, C, B, A}
        self._local = threading.local()
        self._vocab: tuple[int, Vocabulary] | None = None
        self._words_version = -1
        self._lock_depth = 0
        self._thread_lock = threading.RLock()
        self._lock_connection: psycopg.Connection | None = None

    # ---- connections and names ----------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.dsn, autocommit=True)
            self._local.connection = connection
            with self._thread_lock:  # close() closes every thread's connection (e.g. the index drainer's)
                self._connections = [c for c in getattr(self, "_connections", []) if not c.closed] + [connection]
        return connection

    def _names(self, suffix: str = "") -> dict[str, sql.Identifier]:
        base = self.table + suffix
        return {"t": sql.Identifier(base), "terms": sql.Identifier(base + "_terms"),
                "words": sql.Identifier(base + "_words"), "meta": sql.Identifier(base + "_meta")}

    def _q(self, template: str, suffix: str = "") -> sql.Composed:
        return sql.SQL(template).format(**self._names(suffix))

    def is_ready(self) -> bool:
        try:
            row = self._connection().execute("SELECT to_regclass(%s), to_regclass(%s)", (self.table, self.table + "_meta")).fetchone()
        except psycopg.Error:
            return False
        return row[0] is not None and row[1] is not None

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[bool]:
        """The single-writer lock: a PostgreSQL advisory lock (re-entrant within this process)."""
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            yield False
            return
        held = True
        try:
            if self._lock_depth == 0:
                held = self._take_advisory_lock(timeout)
            if held:
                self._lock_depth += 1
            yield held
        finally:
            if held:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_connection is not None:
                    self._lock_connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.table,))
            self._thread_lock.release()

    def _take_advisory_lock(self, timeout: float | None) -> bool:
        if self._lock_connection is None or self._lock_connection.closed:
            self._lock_connection = psycopg.connect(self.dsn, autocommit=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._lock_connection.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.table,)).fetchone()[0]:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # ---- writing ------------------------------------------------------------------------------
    def _create(self, connection: psycopg.Connection, suffix: str) -> None:
        names = self._names(suffix)
        statements = [
            sql.SQL("CREATE TABLE {t} (docnum bigserial UNIQUE, key text PRIMARY KEY, fp text NOT NULL, data jsonb NOT NULL, "
                    "facets jsonb NOT NULL, exact jsonb NOT NULL, groups jsonb NOT NULL, t_all tsvector NOT NULL)").format(**names),
            sql.SQL("CREATE INDEX ON {t} USING gin (t_all)").format(**names),
            sql.SQL("CREATE INDEX ON {t} USING gin (facets jsonb_path_ops)").format(**names),
            sql.SQL("CREATE INDEX ON {t} USING gin (exact jsonb_path_ops)").format(**names),
            sql.SQL("CREATE TABLE {terms} (term text NOT NULL, grp text NOT NULL, df integer NOT NULL, PRIMARY KEY (term, grp))").format(**names),
            sql.SQL("CREATE TABLE {words} (word text PRIMARY KEY)").format(**names),
            sql.SQL("CREATE TABLE {meta} (id integer PRIMARY KEY, version bigint NOT NULL, doc_count bigint NOT NULL)").format(**names),
            sql.SQL("INSERT INTO {meta} VALUES (1, 1, 0)").format(**names),
        ]
        for statement in statements:
            connection.execute(statement)

    def _row(self, document: Document) -> tuple[list, dict[str, set[str]], set[str]]:
        grouped: dict[str, list[str]] = {group: [] for group in self._groups}
        all_tokens: list[str] = []
        title_tokens: tuple[str, ...] = ()
        highlights, exact, words = {}, {}, set()
        for spec in self.fields:
            value = document.text.get(spec.name, "") or ""
            tokens = self.analyzer.tokens(value) if value else ()
            grouped[spec.index_name].extend(tokens)
            all_tokens.extend(tokens)
            if spec.title:
                title_tokens = tokens
            if spec.highlight:
                highlights[spec.name] = value
            if spec.exact and value:
                exact[spec.name] = normalize(value)
            if spec.dictionary:
                words.update(w for w in value.split() if len(w) >= 2)
        data = stored_data(document.fingerprint, document.rank, document.facets, highlights, title_tokens, all_tokens,
                           document.meaning)
        facets = {name: str(value) for name, value in document.facets.items() if value}
        distinct = {group: set(tokens) for group, tokens in grouped.items()}
        ordered = [(token, self._labels[group]) for group, tokens in grouped.items() for token in tokens]
        values = [document.key, document.fingerprint, Jsonb(data), Jsonb(facets), Jsonb(exact),
                  Jsonb({g: sorted(t) for g, t in distinct.items()}),
                  tsvector_literal((t for t, _ in ordered), (label for _, label in ordered))]
        return values, distinct, words

    def _insert_sql(self, suffix: str = "") -> sql.Composed:
        columns = ["key", "fp", "data", "facets", "exact", "groups", "t_all"]
        casts = ["%s", "%s", "%s", "%s", "%s", "%s", "%s::tsvector"]
        update = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:])
        return sql.SQL("INSERT INTO {t} ({columns}) VALUES ({values}) ON CONFLICT (key) DO UPDATE SET {update}").format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)), values=sql.SQL(", ".join(casts)),
            update=update, **self._names(suffix))

    def _apply(self, connection, suffix: str, documents: list[Document], deleted: Iterable[str]) -> int:
        """Write documents and deletions with exact term statistics, in the caller's transaction."""
        keys = [d.key for d in documents] + list(deleted)
        deltas: Counter = Counter()
        if keys:
            for groups in connection.execute(self._q("SELECT groups FROM {t} WHERE key = ANY(%s)", suffix), (keys,)):
                for group, tokens in groups[0].items():
                    for token in tokens:
                        deltas[(token, group)] -= 1
        words: set[str] = set()
        for document in documents:
            words |= {w for spec in self.fields if spec.dictionary
                      for w in (document.text.get(spec.name) or "").split() if len(w) >= 2}
        self.analyzer.add_words(words)
        rows = []
        for document in documents:
            values, distinct, _ = self._row(document)
            rows.append(values)
            for group, tokens in distinct.items():
                for token in tokens:
                    deltas[(token, group)] += 1
        with connection.cursor() as cursor:
            if rows:
                cursor.executemany(self._insert_sql(suffix), rows)
            gone = list(deleted)
            if gone:
                cursor.execute(self._q("DELETE FROM {t} WHERE key = ANY(%s)", suffix), (gone,))
            changes = [(term, group, delta) for (term, group), delta in deltas.items() if delta]
            if changes:
                cursor.executemany(self._q("INSERT INTO {terms} (term, grp, df) VALUES (%s, %s, %s) "
                                           "ON CONFLICT (term, grp) DO UPDATE SET df = {terms}.df + EXCLUDED.df", suffix), changes)
                cursor.execute(self._q("DELETE FROM {terms} WHERE df <= 0", suffix))
            if words:
                cursor.executemany(self._q("INSERT INTO {words} (word) VALUES (%s) ON CONFLICT DO NOTHING", suffix),
                                   [(w,) for w in sorted(words)])
            cursor.execute(self._q("UPDATE {meta} SET version = version + 1, doc_count = (SELECT count(*) FROM {t})", suffix))
        return len(rows)

    def rebuild(self, documents: Iterable[Document]) -> int:
        with self.lock(timeout=None):
            connection = self._connection()
            names, fresh = self._names(), self._names("__new")
            with connection.transaction():
                for key in ("t", "terms", "words", "meta"):
                    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(fresh[key]))
                self._create(connection, "__new")
            batch: list[Document] = []
            count = 0
            for document in documents:
                batch.append(document)
                if len(batch) >= 1000:
                    with connection.transaction():
                        count += self._apply(connection, "__new", batch, ())
                    batch = []
            with connection.transaction():
                count += self._apply(connection, "__new", batch, ())
            for key in ("t", "terms"):  # statistics now, or the planner scans instead of using GIN
                connection.execute(sql.SQL("ANALYZE {}").format(fresh[key]))
            with connection.transaction():
                old_version = 0
                if self.is_ready():
                    old_version = connection.execute(self._q("SELECT version FROM {meta}")).fetchone()[0]
                for key in ("t", "terms", "words", "meta"):  # the swap: readers see old or new, never half
                    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names[key]))
                    connection.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(fresh[key], names[key]))
                # Versions only grow, so every process notices the swap and drops its caches.
                connection.execute(self._q("UPDATE {meta} SET version = version + %s"), (old_version,))
        return count

    def _write(self, documents: list[Document], deleted: list[str]) -> None:
        with self.lock(timeout=self.write_timeout) as held:
            if not held:
                raise IndexBusy("检索索引正被其他进程写入，请稍后再试。")
            if not self.is_ready():
                self.rebuild(())
            connection = self._connection()
            with connection.transaction():
                self._apply(connection, "", documents, deleted)

    def upsert(self, documents: Iterable[Document]) -> None:
        documents = list(documents)
        if documents:
            self._write(documents, [])

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._write([], keys)

    def drop(self) -> None:
        """Remove the tables (tests, or leaving PostgreSQL search for another backend)."""
        with self.lock(timeout=None):
            for suffix in ("", "__new"):
                for name in self._names(suffix).values():
                    self._connection().execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))

    # ---- reading ------------------------------------------------------------------------------
    def _reader(self) -> PostgresReader | None:
        try:
            reader = PostgresReader(self, self._connection())
        except psycopg.errors.UndefinedTable:  # never built: empty results until the first rebuild
            return None
        if reader.version != self._words_version:  # words another process taught the analyzer
            self.analyzer.add_words(row[0] for row in reader.connection.execute(self._q("SELECT word FROM {words}")))
            self._words_version = reader.version
        return reader

    def _vocabulary(self, reader: PostgresReader) -> Vocabulary:
        if self._vocab is None or self._vocab[0] != reader.version:
            titles = []
            if self._title:
                titles = [row[0] for row in reader.connection.execute(
                    self._q("SELECT DISTINCT exact->>%s FROM {t} WHERE exact ? %s"), (self._title, self._title))]
            frequencies = dict(reader.connection.execute(self._q("SELECT term, max(df) FROM {terms} GROUP BY term")).fetchall())
            self._vocab = (reader.version, Vocabulary(titles, frequencies))
        return self._vocab[1]

    def version(self) -> object | None:
        try:  # versions only grow (writes and the rebuild swap), so every process sees every change
            row = self._connection().execute(self._q("SELECT version FROM {meta}")).fetchone()
        except psycopg.Error:
            return None
        return None if row is None else row[0]

    def count(self) -> int:
        reader = self._reader()
        return reader.doc_count() if reader else 0

    def fingerprints(self) -> dict[str, str]:
        if not self.is_ready():
            return {}
        return dict(self._connection().execute(self._q("SELECT key, fp FROM {t}")).fetchall())

    def close(self) -> None:
        if self.temporary:
            self.drop()
        for connection in (*getattr(self, "_connections", ()), self._lock_connection):
            if connection is not None and not connection.closed:
                connection.close()
        self._local.connection = None
        self._lock_connection = None


__all__ = ["PostgresBackend", "tsquery_literal", "tsvector_literal"]
