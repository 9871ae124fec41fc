"""The book's questions in SQL, one text for SQLite (the file book's index) and PostgreSQL.

``Queries`` holds every read the Store makes and the writes that keep a record's lookups in step
with its document. Both engines run the same statements; where their SQL differs the difference
is one entry of a ``Dialect``, and the two dialects stand side by side below. Statements are
written with ``?`` for parameters; PostgreSQL's driver wants ``%s`` and gets it from ``run``.

What differs, and why:
- replacing a record by key: SQLite's ``INSERT OR REPLACE``; PostgreSQL's ``ON CONFLICT DO UPDATE``;
- adding events once: ``INSERT OR IGNORE``; ``ON CONFLICT DO NOTHING``;
- a group's keys as text: ``group_concat``; ``string_agg``;
- the audit log's order of arrival: SQLite's ``rowid``; PostgreSQL's ``seq`` identity column;
- NULL in an ORDER BY: SQLite sorts it first, PostgreSQL last; ``order`` makes PostgreSQL sort as
  SQLite does, so both engines list records in the same order.
Text compares by code point on both (PostgreSQL's columns are ``COLLATE "C"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from backoffice.tools.book.spec import NUMBERS, SPEC
from backoffice.tools.book.storage import Doc

# a touch on a lead: an interaction from the lead's creation on (imported history is not one), and
# not the agent's own system record (a note that it was qualified, a message saved unsent)
_SINCE = " AND ts >= t_leads.created_at AND type != 'system'"
_LATEST = "SELECT max(ts) FROM t_interactions"


@dataclass(frozen=True)
class Dialect:
    name: str
    replace: str  # "{table}", "{columns}", "{marks}", "{updates}": store a record, replacing any with its key
    add_events: str  # add events unless (tx, n) is there already
    keys_text: str  # the comma-separated keys of a GROUP BY group
    arrival: str  # the audit log's order of arrival
    nulls_first: bool  # whether NULL sorts first in ascending order without being told


SQLITE = Dialect(
    name="sqlite",
    replace="INSERT OR REPLACE INTO {table} VALUES ({marks})",
    add_events="INSERT OR IGNORE INTO events (tx, n, record_id, at, event) VALUES (?, ?, ?, ?, ?)",
    keys_text="group_concat(m.key)",
    arrival="rowid",
    nulls_first=True,
)
POSTGRES = Dialect(
    name="postgresql",
    replace="INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT (key) DO UPDATE SET {updates}",
    add_events="INSERT INTO events (tx, n, record_id, at, event) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    keys_text="string_agg(m.key::text, ',')",
    arrival="seq",
    nulls_first=False,
)


class Queries:
    """The shared SQL over a DB-API connection (``conn.execute(sql, params)`` returning rows)."""

    dialect: Dialect = SQLITE

    @property
    def conn(self) -> Any:
        raise NotImplementedError

    def run(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.execute(sql, tuple(params))

    def run_many(self, sql: str, rows: list[Any]) -> None:
        if rows:
            self.conn.executemany(sql, rows)

    # ------------------------------------------------------------------ what the engine returns
    def _doc(self, stored: Any) -> Doc:
        doc: Doc = orjson.loads(stored)
        return doc

    def _stored(self, raw: bytes) -> Any:
        """A document's JSON as the engine takes it."""
        return raw

    @staticmethod
    def _value(value: Any) -> Any:
        """A column value as Python code expects it (PostgreSQL's numerics arrive as Decimal)."""
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def _param(self, table: str, column: str, value: Any) -> Any:
        """A value compared with ``column``: text columns are compared with text."""
        value = _cell(value)
        if value is not None and not isinstance(value, str) and column not in NUMBERS.get(table, ()):
            return str(value)
        return value

    def order(self, order: str) -> str:
        """``order`` (``"ts DESC, key"``) with NULLs placed as SQLite places them."""
        if self.dialect.nulls_first:
            return order
        terms = []
        for term in _terms(order):
            descending = re.search(r"\sDESC$", term, re.I) is not None
            terms.append(f"{term} {'NULLS LAST' if descending else 'NULLS FIRST'}")
        return ", ".join(terms)

    def _where(self, table: str, where: dict[str, Any]) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        for column, wanted in where.items():
            if isinstance(wanted, tuple | list | set | frozenset):
                items = sorted(wanted, key=str)
                if not items:
                    clauses.append("1 = 0")
                    continue
                clauses.append(f"{column} IN ({', '.join('?' * len(items))})")
                values.extend(self._param(table, column, v) for v in items)
            elif wanted is None:
                clauses.append(f"{column} IS NULL")
            else:
                clauses.append(f"{column} = ?")
                values.append(self._param(table, column, wanted))
        return clauses, values

    # ------------------------------------------------------------------ writing
    def _replace_sql(self, table: str) -> str:
        columns = ["key", "doc", *SPEC[table].columns]
        return self.dialect.replace.format(
            table=f"t_{table}",
            columns=", ".join(columns),
            marks=", ".join("?" * len(columns)),
            updates=", ".join(f"{c} = excluded.{c}" for c in columns[1:]),
        )

    def record_row(self, table: str, key: int, doc: Doc, raw: bytes | None = None) -> list[Any]:
        """The row a record is stored as: its key, its document and its indexed columns."""
        columns = SPEC[table].columns.items()
        return [key, self._stored(raw or orjson.dumps(doc)), *(self._param(table, c, f(doc)) for c, f in columns)]

    @staticmethod
    def multi_rows(table: str, key: int, doc: Doc) -> list[tuple[str, str, str, int]]:
        return [(table, name, v, key) for name, f in SPEC[table].multi.items() for v in f(doc)]

    def put(self, table: str, key: str, doc: Doc, raw: bytes | None = None) -> None:
        """Store ``doc`` (``raw``: its JSON, when the caller already has it) and its lookups."""
        spec = SPEC[table]
        k = int(key)
        before = None
        if table == "interactions":
            row = self.run("SELECT lead_id FROM t_interactions WHERE key = ?", (k,)).fetchone()
            before = row[0] if row else None
        self.run(self._replace_sql(table), self.record_row(table, k, doc, raw))
        if spec.multi:
            self.run("DELETE FROM multi WHERE tbl = ? AND key = ?", (table, k))
            self.run_many("INSERT INTO multi VALUES (?, ?, ?, ?)", self.multi_rows(table, k, doc))
        if table == "leads":
            self._touch(f"L-{k}")
        elif table == "interactions":
            for lead_id in {before, doc.get("lead_id")}:
                if lead_id:
                    self._touch(str(lead_id))

    def _touch(self, lead_id: str) -> None:
        """Bring a lead's ``last_ts`` up to date from its interactions."""
        key = int(lead_id[2:]) if lead_id[:2] == "L-" and lead_id[2:].isdigit() else -1
        self.run(f"UPDATE t_leads SET last_ts = ({_LATEST} WHERE lead_id = ?{_SINCE}) WHERE key = ?", (lead_id, key))

    def touch_all(self) -> None:
        """Every lead's ``last_ts`` at once (after a bulk load)."""
        self.run(f"UPDATE t_leads SET last_ts = ({_LATEST} WHERE lead_id = 'L-' || t_leads.key{_SINCE})")

    def add_events(self, tx: str, events: list[Doc], start: int = 0) -> None:
        """Events of transaction ``tx``, numbered from ``start``; adding the same ones again changes nothing."""
        self.run_many(
            self.dialect.add_events,
            [
                (tx, start + n, e.get("record_id"), e.get("at"), self._stored(orjson.dumps(e)))
                for n, e in enumerate(events)
            ],
        )

    # ------------------------------------------------------------------ reading
    def get(self, table: str, key: str) -> Doc | None:
        row = self.run(f"SELECT doc FROM t_{table} WHERE key = ?", (int(key),)).fetchone()
        return self._doc(row[0]) if row else None

    def select(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        order: str = "key",
        limit: int | None = None,
        extra: str = "",
        params: tuple[Any, ...] = (),
    ) -> list[Doc]:
        """Records whose indexed columns equal ``where``'s values (a tuple/list/set: any of them)."""
        clauses, values = self._where(table, where or {})
        if extra:
            clauses.append(extra)
            values.extend(params)
        sql = f"SELECT doc FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += f" ORDER BY {self.order(order)}" + (f" LIMIT {int(limit)}" if limit else "")
        return [self._doc(r[0]) for r in self.run(sql, values)]

    def column(self, table: str, column: str, where: dict[str, Any] | None = None) -> list[tuple[int, Any]]:
        """(key, value) of one indexed column, without reading the documents."""
        clauses, values = self._where(table, where or {})
        sql = f"SELECT key, {column} FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return [(k, self._value(v)) for k, v in self.run(sql + " ORDER BY key", values)]

    def rows(self, table: str, columns: list[str], where: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """(key, *columns) of every matching record: indexed fields only, no document is read."""
        clauses, values = self._where(table, where or {})
        sql = f"SELECT key, {', '.join(columns)} FROM t_{table}"
        sql += (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY key"
        return [tuple(self._value(v) for v in row) for row in self.run(sql, values)]

    def shared(self, table: str, name: str, where: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """(value, comma-separated keys) of every ``name`` value (email, phone...) that more than one
        matching record holds."""
        clauses, values = self._where(table, where or {})
        sql = (
            f"SELECT m.value, {self.dialect.keys_text} FROM multi m JOIN t_{table} r ON r.key = m.key "
            "WHERE m.tbl = ? AND m.name = ?" + "".join(f" AND r.{c}" for c in clauses)
        )
        sql += " GROUP BY m.value HAVING count(DISTINCT m.key) > 1 ORDER BY m.value"
        return [tuple(row) for row in self.run(sql, [table, name, *values])]

    def count(
        self, table: str, where: dict[str, Any] | None = None, extra: str = "", params: tuple[Any, ...] = ()
    ) -> int:
        clauses, values = self._where(table, where or {})
        if extra:
            clauses.append(extra)
            values.extend(params)
        sql = f"SELECT count(*) FROM t_{table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return int(self.run(sql, values).fetchone()[0])

    def max_key(self, table: str) -> int:
        return int(self.run(f"SELECT coalesce(max(key), 0) FROM t_{table}").fetchone()[0])

    def by_multi(self, table: str, name: str, values: Iterable[str], prefix: bool = False) -> set[int]:
        keys: set[int] = set()
        for value in values:
            if prefix:
                rows = self.run(
                    "SELECT key FROM multi WHERE tbl = ? AND name = ? AND value >= ? AND value < ?",
                    (table, name, value, value + "\U0010ffff"),
                )
            else:
                rows = self.run("SELECT key FROM multi WHERE tbl = ? AND name = ? AND value = ?", (table, name, value))
            keys.update(r[0] for r in rows)
        return keys

    def docs(self, table: str, keys: Iterable[int]) -> list[Doc]:
        wanted = sorted(set(keys))
        out: list[Doc] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.run(f"SELECT doc FROM t_{table} WHERE key IN ({marks}) ORDER BY key", chunk)
            out.extend(self._doc(r[0]) for r in rows)
        return out

    def raw(self, table: str) -> Iterator[tuple[int, bytes]]:
        """Every record as stored, by key: for writing a TinyDB file without parsing anything."""
        for key, doc in self.run(f"SELECT key, doc FROM t_{table} ORDER BY key"):
            yield key, doc if isinstance(doc, bytes) else bytes(doc)

    def values(self, table: str, column: str, keys: Iterable[int]) -> list[tuple[int, Any]]:
        """(key, one indexed column) of the records with these keys."""
        wanted = sorted(set(keys))
        out: list[tuple[int, Any]] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.run(f"SELECT key, {column} FROM t_{table} WHERE key IN ({marks})", chunk)
            out.extend((k, self._value(v)) for k, v in rows)
        return out

    def quiet_leads(
        self,
        statuses: Iterable[str],
        cutoff: str,
        limit: int | None = None,
        by_class: dict[str, str] | None = None,
        order: dict[str, int] | None = None,
    ) -> tuple[list[tuple[int, str, str | None, Any, str | None]], int]:
        """Leads in ``statuses`` whose last activity (their creation, or their latest interaction
        since) is before ``cutoff`` (canonical UTC text), or before ``by_class``'s cutoff for their
        class: (key, created_at, that interaction's time or None, estimated value, class) of the first
        ``limit`` (None: all), in the ``order`` of their class (the unclassed where ``order[""]`` puts
        them), then the longest silence first, then the most valuable; and how many there are.
        From the index alone."""
        wanted = sorted(statuses)
        marks = ", ".join("?" * len(wanted))
        classes = sorted((by_class or {}).items())
        edge = "CASE effort_class " + "".join("WHEN ? THEN ? " for _ in classes) + "ELSE ? END" if classes else "?"
        edge_params: list[Any] = [x for pair in classes for x in pair] + [cutoff]
        where = f"status IN ({marks}) AND coalesce(last_ts, created_at) < {edge}"
        params = [*wanted, *edge_params]
        total = self.run(f"SELECT count(*) FROM t_leads WHERE {where}", params).fetchone()[0]
        ranks = sorted((k, v) for k, v in (order or {}).items() if k)
        rank = ("CASE effort_class " + "".join("WHEN ? THEN ? " for _ in ranks) + "ELSE ? END, ") if ranks else ""
        rank_params: list[Any] = [x for pair in ranks for x in pair] + [(order or {}).get("", 99)] if ranks else []
        # the class first, then the longest silence (UTC text sorts as time), then the most valuable
        ordering = self.order(f"{rank}coalesce(last_ts, created_at), coalesce(estimated_value, 0) DESC, key")
        rows = self.run(
            f"""SELECT key, created_at, last_ts, estimated_value, effort_class FROM t_leads WHERE {where}
                ORDER BY {ordering}"""
            + (f" LIMIT {int(limit)}" if limit is not None else ""),
            [*params, *rank_params],
        )
        return [(k, c, t, self._value(v), e) for k, c, t, v, e in rows], int(total)

    def touch_counts(self, lead_ids: list[str]) -> dict[str, list[tuple[str, str, int]]]:
        """(type, outcome, how many) of the interactions on each lead, since the lead was opened."""
        out: dict[str, list[tuple[str, str, int]]] = {}
        for i in range(0, len(lead_ids), 500):
            chunk = lead_ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.run(
                f"""SELECT i.lead_id, i.type, i.outcome, count(*) FROM t_interactions i
                    JOIN t_leads l ON l.key = CAST(substr(i.lead_id, 3) AS INTEGER)
                    WHERE i.lead_id IN ({marks}) AND i.ts >= l.created_at GROUP BY i.lead_id, i.type, i.outcome""",
                chunk,
            )
            for lead_id, kind, outcome, n in rows:
                out.setdefault(lead_id, []).append((kind, outcome or "none", int(n)))
        return out

    def events_between(self, lo: str, hi: str, prefix: str | None = None) -> list[Doc]:
        """Events logged at ``lo`` or later and before ``hi`` (canonical UTC text), in the order they
        were logged; with ``prefix``, only those of records whose id starts with it ("O-")."""
        sql = "SELECT event FROM events WHERE at >= ? AND at < ?"
        params: list[Any] = [lo, hi]
        if prefix:
            sql += " AND record_id >= ? AND record_id < ?"
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        rows = self.run(sql + f" ORDER BY at, {self.dialect.arrival}", params)
        return [self._doc(r[0]) for r in rows]

    def latest_by(self, link: str, record_ids: list[str], human_only: bool = False) -> dict[str, Doc]:
        """The latest interaction of each record (by ``link``), in one pass per 500 records;
        ``human_only`` leaves the agent's system records out."""
        out: dict[str, Doc] = {}
        human = " AND type != 'system'" if human_only else ""
        order = self.order("ts DESC, key DESC")
        for i in range(0, len(record_ids), 500):
            chunk = record_ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.run(
                f"""SELECT {link}, doc FROM (
                      SELECT {link}, doc, row_number() OVER (PARTITION BY {link} ORDER BY {order}) AS n
                      FROM t_interactions WHERE {link} IN ({marks}){human}) latest WHERE n = 1""",
                chunk,
            )
            out.update((rid, self._doc(doc)) for rid, doc in rows)
        return out

    def all_events(self) -> list[Doc]:
        """The whole audit log in order of arrival."""
        return [self._doc(r[0]) for r in self.run(f"SELECT event FROM events ORDER BY {self.dialect.arrival}")]

    def events_for(self, record_id: str) -> list[Doc]:
        rows = self.run(
            f"SELECT event FROM events WHERE record_id = ? ORDER BY {self.order('at')}, {self.dialect.arrival}",
            (record_id,),
        )
        return [self._doc(r[0]) for r in rows]

    def events_for_many(self, record_ids: list[str]) -> list[Doc]:
        """The events of several records in the order they were logged (by time, then as written)."""
        found: list[tuple[str, int, Any]] = []
        for i in range(0, len(record_ids), 500):
            chunk = record_ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT at, {self.dialect.arrival}, event FROM events WHERE record_id IN ({marks})"
            found.extend(self.run(sql, chunk))
        found.sort(key=lambda r: (r[0] or "", r[1]))
        return [self._doc(r[2]) for r in found]


def _terms(order: str) -> list[str]:
    """The terms of an ORDER BY, split at the commas that are not inside parentheses."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(order):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(order[start:i].strip())
            start = i + 1
    terms.append(order[start:].strip())
    return [t for t in terms if t]


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
