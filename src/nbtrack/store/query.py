"""The run query language, compiled into parameterized SQL.

``where`` examples::

    metrics.acc > 0.9 and params.model = 'rf'
    status = 'failed' or (tags.stage in ('prod', 'staging') and not name ~ '^tmp')
    start > '2026-01-01' and params.`odd key` is not null

``order_by`` examples: ``-metrics.acc``, ``name, -start``.

User text never becomes SQL: field names map to fixed SQL fragments, keys and literals become
bound parameters. Anything else is a :class:`~nbtrack.errors.QueryError` naming the position.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2

from nbtrack.errors import QueryError

COLUMNS = {
    "run_id": "r.run_id",
    "id": "r.run_id",
    "name": "r.name",
    "experiment": "e.name",
    "status": "r.status",
    "kind": "r.kind",
    "start": "r.start",
    "end": 'r."end"',
    "duration_s": "r.duration_s",
    "duration": "r.duration_s",
    "parent": "r.parent_id",
    "parent_id": "r.parent_id",
    "host": "r.host",
    "user": "r.user",
    "source": "r.source_path",
    "code": "r.code",
}
TIME_FIELDS = {"start", "end"}
#: The table holding each keyed field's values (a metric's: its last value, NaN as NULL).
KEYED_TABLES = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}
KEYED = {
    head: f"(SELECT value FROM {table} WHERE run_id = r.run_id AND key = ?)" for head, table in KEYED_TABLES.items()
}
KEYED_ALIASES = {"param": "params", "metric": "metrics", "tag": "tags"}
COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
FIELD_HELP = (
    "a field: name, status, experiment, kind, start, end, duration_s, run_id, parent, host, user, "
    "params.<name>, metrics.<name> or tags.<name>"
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<op>==|!=|<>|<=|>=|<|>|=|~|\(|\)|,)
  | (?P<field>[A-Za-z_][\w\-]*(?:\.(?:`[^`]+`|[\w\-./:@]+))?)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", "asc", "desc"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int
    value: object = None


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:  # (every alternative of _TOKEN is a named group)
            raise QueryError(f"Unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup
        chunk = match.group()
        if kind == "string":
            tokens.append(Token("string", chunk, pos, _unquote(chunk)))
        elif kind == "number":
            tokens.append(Token("number", chunk, pos, float(chunk) if re.search(r"[.eE]", chunk) else int(chunk)))
        elif kind == "field" and chunk.lower() in KEYWORDS:
            tokens.append(Token("keyword", chunk.lower(), pos))
        elif kind != "ws":
            tokens.append(Token(kind, chunk, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(chunk: str) -> str:
    quote, body = chunk[0], chunk[1:-1]
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, text: str, per_run: bool = False):
        self.text = text
        self.per_run = per_run
        self.tokens = tokenize(text)
        self.i = 0
        self.params: list[object] = []

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> QueryError:
        token = token or self.token
        found = f"found {token.text!r}" if token.kind != "end" else "found the end of the query"
        return QueryError(f"{message}, {found}", self.text, token.pos)

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.token
        if token.kind == kind and (text is None or token.text == text):
            self.i += 1
            return token
        return None

    def expect(self, kind: str, text: str, what: str) -> Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.error(f"Expected {what}")
        return token

    # expr := and_expr ('or' and_expr)*
    def parse_or(self) -> str:
        parts = [self.parse_and()]
        while self.accept("keyword", "or"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def parse_and(self) -> str:
        parts = [self.parse_not()]
        while self.accept("keyword", "and"):
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def parse_not(self) -> str:
        if self.accept("keyword", "not"):
            return f"(NOT COALESCE({self.parse_not()}, 0))"
        if self.accept("op", "("):
            inner = self.parse_or()
            self.expect("op", ")", "')' to close the parenthesis")
            return inner
        return self.parse_comparison()

    def parse_field(self) -> tuple[str, str]:
        token = self.token
        if token.kind != "field":
            raise self.error(f"Expected {FIELD_HELP}")
        self.i += 1
        head, _, key = token.text.partition(".")
        head = KEYED_ALIASES.get(head.lower(), head.lower())
        if head in KEYED and key:
            key = key[1:-1] if key.startswith("`") else key
            self.params.append(key)
            return KEYED[head], head
        if not key and head in COLUMNS:
            return COLUMNS[head], head
        raise QueryError(f"Unknown field {token.text!r}: use {FIELD_HELP}", self.text, token.pos)

    def parse_value(self, field: str) -> object:
        token = self.token
        if token.kind in ("number", "string"):
            self.i += 1
            if field in TIME_FIELDS and isinstance(token.value, str):  # (only a string token has a str value)
                return _timestamp(token.value, token.pos, self.text)
            if isinstance(token.value, int) and not -(2**63) <= token.value < 2**63:
                raise self.error(
                    f"The number {token.text} is beyond the 64-bit integers a query can compare: write it as a "
                    f"float ({float(token.value):g}) or a 'quoted string'"
                )
            return token.value
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.i += 1
            return 1 if token.text == "true" else 0
        raise self.error("Expected a value (a number, a 'quoted string', true or false)")

    def parse_comparison(self) -> str:
        sql, field = self.parse_field()
        keyed = field in KEYED_TABLES and not self.per_run
        # A keyed field's comparison reads only the runs that have the name, through the value index of
        # migration 7: `r.run_id IN (SELECT run_id FROM params WHERE key = ? AND value > ?)`, not one
        # lookup per run. A run without the name fails the comparison either way (NULL > x is not true).
        # `per_run` keeps the lookup per run: cheaper when most runs match and a page stops early.
        operand = "value" if keyed else sql

        def on(condition: str) -> str:
            return (
                f"r.run_id IN (SELECT run_id FROM {KEYED_TABLES[field]} WHERE key = ? AND {condition})"
                if keyed
                else condition
            )

        token = self.token
        if token.kind == "op" and token.text in COMPARISONS:
            self.i += 1
            self.params.append(self.parse_value(field))
            return on(f"{operand} {COMPARISONS[token.text]} ?")
        if token.kind == "op" and token.text == "~":
            self.i += 1
            pattern_token = self.token
            pattern = self.parse_value(field)
            if not isinstance(pattern, str):
                raise self.error("Expected a 'quoted regular expression' after '~'", pattern_token)
            try:
                compiled_regex(pattern)
            except ValueError as error:
                raise QueryError(str(error), self.text, pattern_token.pos) from None
            self.params.append(pattern)
            return on(f"{operand} REGEXP ?")
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not") is not None
            self.expect("keyword", "null", "null after 'is'")
            return f"{sql} IS {'NOT ' if negated else ''}NULL"
        negated = False
        if token.kind == "keyword" and token.text == "not":
            self.i += 1
            negated = True
            if self.token.text != "in":
                raise self.error("Expected 'in' after 'not'")
        if self.accept("keyword", "in"):
            self.expect("op", "(", "'(' after 'in'")
            values = [self.parse_value(field)]
            while self.accept("op", ","):
                values.append(self.parse_value(field))
            self.expect("op", ")", "')' to close the list")
            self.params.extend(values)
            return on(f"{operand} {'NOT ' if negated else ''}IN ({', '.join('?' * len(values))})")
        raise self.error("Expected a comparison (=, !=, <, <=, >, >=, ~, in, is null)")


def _timestamp(value: str, pos: int, text: str) -> float:
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"{value!r} is not a date: write it like '2026-01-31' or '2026-01-31T12:00'", text, pos
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def compile_where(text: str | None, per_run: bool = False) -> tuple[str, list[object]]:
    """``(sql, params)`` for a where text; empty text gives ``("1", [])``.

    The SQL refers to ``runs AS r`` joined with ``experiments AS e``. A comparison on a param, metric or
    tag reads the runs that have the name from its value index; with ``per_run`` it looks the value up in
    each run tested instead (the same result).
    """
    if text is None or not str(text).strip():
        return "1", []
    if not isinstance(text, str):
        raise QueryError(f"A query must be a string, not {type(text).__name__}", "", 0)
    parser = _Parser(text, per_run)
    sql = parser.parse_or()
    if parser.token.kind != "end":
        raise parser.error("Expected 'and', 'or' or the end of the query")
    return sql, parser.params


def fields(text: str) -> list[str]:
    """The fields a where text names, in order, each once (``metrics.auc``, ``status``): what a refusal
    shows the actual values of."""
    found: list[str] = []
    for token in tokenize(text):
        if token.kind == "field" and token.text not in found:
            found.append(token.text)
    return found


@dataclass
class OrderItem:
    """One item of an order_by text: the field's SQL and params, its direction, and for a keyed field
    (``metrics.acc``) its table and key."""

    sql: str
    params: list[object]
    descending: bool
    table: str | None = None
    key: str | None = None

    @property
    def direction(self) -> str:
        return "DESC" if self.descending else "ASC"


def compile_order_by(text: str | None) -> tuple[str, list[object]]:
    """``(sql, params)`` for an order_by text such as ``-metrics.acc, name``; default newest first.

    Each item is a field, optionally prefixed by ``-`` (descending) or followed by ``asc``/``desc``.
    Missing values sort last either way; runs that tie are ordered by ``run_id``, descending.
    """
    return compile_order_items(order_items(text))


def compile_order_items(items: list[OrderItem]) -> tuple[str, list[object]]:
    """``(sql, params)`` of an order given as :func:`order_items`."""
    if not items:
        return "r.start DESC, r.run_id DESC", []
    parts = [f"{item.sql} {item.direction} NULLS LAST" for item in items]
    parts.append("r.run_id DESC")
    return ", ".join(parts), [param for item in items for param in item.params]


def order_items(text: str | None) -> list[OrderItem]:
    """The items of an order_by text (none for an empty text: the default order)."""
    if text is None or not str(text).strip():
        return []
    items: list[OrderItem] = []
    offset = 0
    for item in _split_items(text):
        stripped = item.lstrip()
        pos = offset + len(item) - len(stripped)
        descending = stripped.startswith("-")
        if stripped.startswith(("-", "+")):  # (not `stripped[:1] in "-+"`: "" is in every string)
            stripped, pos = stripped[1:], pos + 1
        parser = _Parser(stripped)
        try:
            sql, head = parser.parse_field()
            if parser.accept("keyword", "desc"):
                descending = True
            else:
                parser.accept("keyword", "asc")
            if parser.token.kind != "end":
                raise parser.error("Expected ',' , 'asc', 'desc' or the end of the order")
        except QueryError as error:
            raise QueryError(str(error).split(" (at position")[0], text, pos + error.position) from None
        keyed = head in KEYED_TABLES
        items.append(
            OrderItem(
                sql,
                parser.params,
                descending,
                KEYED_TABLES[head] if keyed else None,
                str(parser.params[0]) if keyed else None,
            )
        )
        offset += len(item) + 1
    return items


def _split_items(text: str) -> list[str]:
    """Split an order text on commas that are not inside quotes or backticks."""
    items: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == ",":
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return items


MAX_REGEX_LENGTH = 1000


@functools.lru_cache(maxsize=256)
def compiled_regex(pattern: str) -> re2._Regexp:
    """The ``~`` pattern, compiled with RE2: matching takes time linear in the text whatever the pattern, so
    a pattern like ``(a+)+$`` cannot stall a query (Python's ``re`` backtracks exponentially on it). RE2 has
    no backreferences or lookaround; such a pattern is refused with a ``ValueError`` saying so."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"Regular expression of {len(pattern)} characters: keep it under {MAX_REGEX_LENGTH}.")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        detail = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise ValueError(
            f"Invalid regular expression ({detail}): `~` takes RE2 syntax, as Python's re but without "
            "backreferences or lookaround."
        ) from None


def regexp(pattern: str, value: object) -> bool:
    """SQLite's ``REGEXP`` function: ``value REGEXP pattern`` (NULL never matches)."""
    if value is None:
        return False
    return compiled_regex(pattern).search(str(value)) is not None


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are raised, not also printed
