"""Reading side of the PostgreSQL backend: ``tsvector``/``tsquery`` literals for our own lexemes, and
the adapter that answers the calls :class:`search.ranking.Ranker` makes on a Whoosh searcher with SQL."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from whoosh.query import And, Every, Not, Or, Term

if TYPE_CHECKING:
    from search.postgres_backend import PostgresBackend

MAX_POSITION = 16383  # PostgreSQL's largest tsvector position


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Iterable[str], labels: Iterable[str] | None = None) -> str:
    """A ``tsvector`` literal with positions (and weight labels A–D) for these exact lexemes
    (no parsing, no stemming)."""
    positions: dict[str, list[str]] = {}
    labels = iter(labels) if labels is not None else None
    for position, token in enumerate(tokens, start=1):
        label = next(labels) if labels is not None else ""
        if token:
            positions.setdefault(token, []).append(f"{min(position, MAX_POSITION)}{label if label != 'D' else ''}")
    return " ".join(f"{_lexeme(token)}:{','.join(places[:256])}" for token, places in positions.items())


def tsquery_literal(tokens: Iterable[str]) -> str:
    """``'a' | 'b' | …``: documents containing any of the tokens."""
    return " | ".join(_lexeme(token) for token in dict.fromkeys(tokens) if token)



class SqlHit:
    __slots__ = ("docnum", "score")

    def __init__(self, docnum: int, score: float) -> None:
        self.docnum, self.score = docnum, score


class SqlSearcher:
    """Answers the calls :class:`search.ranking.Ranker` makes on a Whoosh searcher, with SQL."""

    def __init__(self, backend: PostgresBackend, connection: psycopg.Connection) -> None:
        self.backend, self.connection = backend, connection
        self.version, self._count = connection.execute(backend._q("SELECT version, doc_count FROM {meta}")).fetchone()
        self._stored: dict[int, dict] = {}
        self._frequencies: dict[str, dict[str, int]] = {}

    def doc_count(self) -> int:
        return self._count

    def doc_count_all(self) -> int:
        """Whoosh counts replaced documents here too; PostgreSQL's statistics are exact, so the same."""
        return self._count

    def prefetch(self, tokens: Iterable[str]) -> None:
        """Document frequencies of many tokens in one round trip (the ranker asks token by token)."""
        tokens = [t for t in dict.fromkeys(tokens) if t not in self._frequencies]
        if not tokens:
            return
        for token in tokens:
            self._frequencies[token] = {}
        rows = self.connection.execute(self.backend._q("SELECT term, grp, df FROM {terms} WHERE term = ANY(%s)"), (tokens,))
        for term, group, df in rows:
            self._frequencies[term][group] = df

    def doc_frequency(self, field: str, token: str) -> int:
        if token not in self._frequencies:
            rows = self.connection.execute(self.backend._q("SELECT grp, df FROM {terms} WHERE term = %s"), (token,)).fetchall()
            self._frequencies[token] = dict(rows)
        return self._frequencies[token].get(field.removeprefix("t_"), 0)

    def _where(self, query, parameters: list) -> str:
        """SQL for a Whoosh query tree of facet, key, exact and token terms."""
        if query is None or isinstance(query, Every):
            return "TRUE"
        if isinstance(query, (And, Or)):
            joiner = " AND " if isinstance(query, And) else " OR "
            return "(" + joiner.join(self._where(q, parameters) for q in query.subqueries) + ")" if query.subqueries else "TRUE"
        if isinstance(query, Not):
            return f"NOT {self._where(query.query, parameters)}"
        if isinstance(query, Term):
            field, text = query.fieldname, query.text
            if field == "key":
                parameters.append(text)
                return "key = %s"
            prefix, _, name = field.partition("_")
            if prefix in ("f", "x"):
                parameters.append(Jsonb({name: text}))
                return ("facets" if prefix == "f" else "exact") + " @> %s"
            if prefix == "t":  # a token in one group: the group's weight label on the all-groups vector
                parameters.append(f"{_lexeme(text)}:{self.backend._labels.get(name, 'D')}")
                return "t_all @@ %s::tsquery"
        raise ValueError(f"unsupported query {query!r}")

    def _select(self, where: str, parameters: list, score: str = "1.0", score_parameters: list | None = None,
                limit: int | None = None) -> list[SqlHit]:
        statement = f"SELECT docnum, key, data, {score} AS score FROM {{t}} WHERE {where}"
        if limit is not None:
            statement += f" LIMIT {int(limit)}"
        rows = self.connection.execute(self.backend._q(statement), (score_parameters or []) + parameters).fetchall()
        hits = []
        for docnum, key, data, value in rows:
            self._stored[docnum] = {"key": key, "data": data}
            hits.append(SqlHit(docnum, float(value)))
        return hits

    def docs_for_query(self, query) -> list[int]:
        parameters: list = []
        return [hit.docnum for hit in self._select(self._where(query, parameters), parameters)]

    def search(self, query, limit: int = 10, filter=None, mask=None) -> list[SqlHit]:
        leaves = query.subqueries if isinstance(query, Or) else [query]
        tokens = [leaf for leaf in leaves if isinstance(leaf, Term) and leaf.fieldname.startswith("t_")]
        parameters: list = []
        conditions = [] if tokens else [self._where(query, parameters)]  # no tokens: an exact-value lookup
        if filter is not None:
            conditions.append(self._where(filter, parameters))
        if mask is not None:
            conditions.append(f"NOT {self._where(mask, parameters)}")
        if not tokens:
            return self._select(" AND ".join(conditions), parameters, limit=limit)
        # Match on the all-groups vector (GIN index); rank with the group weights (BM25F-like).
        where = " AND ".join(["t_all @@ q.query"] + conditions)
        statement = (f"SELECT docnum, key, data, ts_rank(%s::float4[], t_all, q.query) AS score "
                     f"FROM {{t}}, (SELECT %s::tsquery AS query) q WHERE {where} ORDER BY score DESC, key LIMIT {int(limit)}")
        arguments = [self.backend._weights, tsquery_literal({leaf.text for leaf in tokens})] + parameters
        hits = []
        for docnum, key, data, value in self.connection.execute(self.backend._q(statement), arguments).fetchall():
            self._stored[docnum] = {"key": key, "data": data}
            hits.append(SqlHit(docnum, float(value)))
        return hits

    def stored_fields(self, docnum: int) -> dict:
        if docnum not in self._stored:
            key, data = self.connection.execute(self.backend._q("SELECT key, data FROM {t} WHERE docnum = %s"), (docnum,)).fetchone()
            self._stored[docnum] = {"key": key, "data": data}
        return self._stored[docnum]
