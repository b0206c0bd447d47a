"""Reading side of the PostgreSQL backend: ``tsvector``/``tsquery`` literals for our own lexemes, and
the reader that compiles the neutral :class:`search.reader.MatchQuery` to SQL."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import psycopg
from psycopg.types.json import Jsonb

from search.reader import Candidate, MatchQuery, Reader, Vocabulary

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



class PostgresReader(Reader):
    """One consistent view of the tables (their version), answering the ranker with SQL."""

    def __init__(self, backend: PostgresBackend, connection: psycopg.Connection) -> None:
        self.backend, self.connection = backend, connection
        self.version, self._count = connection.execute(backend._q("SELECT version, doc_count FROM {meta}")).fetchone()

    def doc_count(self) -> int:
        return self._count  # PostgreSQL's statistics are exact: replaced documents are not counted

    def group_frequencies(self, tokens: Iterable[str]) -> dict[str, dict[str, int]]:
        """Document frequencies of many tokens in one round trip."""
        tokens = [t for t in dict.fromkeys(tokens) if t]
        found: dict[str, dict[str, int]] = {token: {} for token in tokens}
        if tokens:
            rows = self.connection.execute(self.backend._q("SELECT term, grp, df FROM {terms} WHERE term = ANY(%s)"),
                                           (tokens,))
            for term, group, df in rows:
                found[term][group] = df
        return found

    def _conditions(self, query: MatchQuery, parameters: list) -> list[str]:
        conditions = []
        for name, values in query.filters:  # GIN (jsonb_path_ops) answers containment
            conditions.append("(" + " OR ".join("facets @> %s" for _ in values) + ")")
            parameters += [Jsonb({name: value}) for value in values]
        if query.exclude:
            conditions.append("NOT (key = ANY(%s))")
            parameters.append(list(query.exclude))
        return conditions

    def match(self, query: MatchQuery) -> list[Candidate]:
        parameters: list = []
        if query.terms:
            # Match on the all-groups vector (GIN index); rank with the group weights (BM25F-like).
            conditions = ["t_all @@ q.query"] + self._conditions(query, parameters)
            statement = (f"SELECT key, data, ts_rank(%s::float4[], t_all, q.query) AS score "
                         f"FROM {{t}}, (SELECT %s::tsquery AS query) q WHERE {' AND '.join(conditions)} "
                         f"ORDER BY score DESC, key")
            parameters = [self.backend._weights, tsquery_literal(c.token for c in query.terms)] + parameters
        else:
            conditions = []
            if query.exact:
                conditions.append("(" + " OR ".join("exact @> %s" for _ in query.exact) + ")")
                parameters += [Jsonb({name: value}) for name, value in query.exact]
            conditions += self._conditions(query, parameters)
            statement = f"SELECT key, data, 1.0 AS score FROM {{t}} WHERE {' AND '.join(conditions) or 'TRUE'} ORDER BY docnum"
        if query.limit is not None:
            statement += f" LIMIT {int(query.limit)}"
        rows = self.connection.execute(self.backend._q(statement), parameters).fetchall()
        return [Candidate.from_stored(key, float(score), data) for key, data, score in rows]

    def vocabulary(self) -> Vocabulary:
        return self.backend._vocabulary(self)

    def keys_for_title(self, title: str) -> list[str]:
        rows = self.connection.execute(self.backend._q("SELECT key FROM {t} WHERE exact @> %s ORDER BY docnum"),
                                       (Jsonb({self.backend._title: title}),))
        return [row[0] for row in rows]
