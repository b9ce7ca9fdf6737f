"""pixbridge's portable SQL (``?`` placeholders) in psycopg's ``%s`` style."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["to_pyformat"]


@lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """*sql* with each ``?`` placeholder as ``%s`` and each literal ``%`` as ``%%``.

    A ``?`` inside a quoted string or identifier would be ambiguous, so pixbridge's SQL never
    has one: it is refused rather than guessed at.

    :raises ValueError: a ``?`` inside quotes.
    """
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None  # a doubled quote ('') closes and reopens: the same result
            elif char == "?":
                raise ValueError(f"a literal '?' inside quotes in SQL: {sql!r}")
            out.append("%%" if char == "%" else char)
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        else:
            out.append("%%" if char == "%" else char)
    if quote is not None:
        raise ValueError(f"an unterminated quote in SQL: {sql!r}")
    return "".join(out)
