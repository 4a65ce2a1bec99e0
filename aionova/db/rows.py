"""Values between objects and columns: timestamps, JSON columns, booleans; row → object."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec

from aionova.db.engine import Row
from aionova.objects.base import NovaObject

Obj = TypeVar("Obj", bound=NovaObject[Any])
NO_JSON: frozenset[str] = frozenset()
INSTANCE_JSON = frozenset({"flavor", "metadata", "system_metadata"})
"""The JSON columns of ``instances``."""


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def fmt_time(value: dt.datetime | str) -> str:
    """One lexically sortable text form for every stored timestamp.

    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (what ``strftime`` would give, built with the
    faster ``isoformat``).
    """
    if isinstance(value, str):
        value = msgspec.convert(value, dt.datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    elif value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def now_text() -> str:
    """``fmt_time(utcnow())``."""
    return fmt_time(utcnow())


def to_db(value: Any, *, is_time: bool = False) -> Any:
    """A Python value as a column value (JSON text for objects, dicts and lists)."""
    if value is None:
        return None
    if is_time or isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (NovaObject, dict, list)):
        return msgspec.json.encode(value).decode()
    return value


def from_row(cls: type[Obj], row: Row, json_fields: frozenset[str] = NO_JSON) -> Obj:
    """An object from a row; JSON columns decoded, unknown columns ignored."""
    data: dict[str, Any] = dict(row)
    for name in json_fields:
        raw = data.get(name)
        if isinstance(raw, str):
            data[name] = msgspec.json.decode(raw)
    obj: Obj = msgspec.convert(data, cls, strict=False)
    return obj


def where_in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (...)`` where a None member means "IS NULL" (never an empty ``IN``)."""
    concrete = [v for v in values if v is not None]
    parts = []
    if concrete:
        parts.append(f"{column} IN ({','.join('?' * len(concrete))})")
    if len(concrete) != len(values):
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts or ["1=0"]) + ")", concrete


def quoted(column: str) -> str:
    """A column name as a quoted identifier (``binary`` is a keyword in PostgreSQL)."""
    return f'"{column}"'


def insert_sql(table: str, cols: Sequence[str]) -> str:
    """INSERT returning the new row (no SELECT after it)."""
    names = ",".join(map(quoted, cols))
    return f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(cols))}) RETURNING *"


def update_sql(table: str, cols: Sequence[str], where: str) -> str:
    """UPDATE of ``cols`` returning the changed row(s)."""
    return (
        f"UPDATE {table} SET {','.join(f'{quoted(c)}=?' for c in cols)} WHERE {where} RETURNING *"
    )
